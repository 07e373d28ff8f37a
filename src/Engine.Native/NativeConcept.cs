using CoAR.Engine.Graph.Concepts;

namespace CoAR.Engine.Native;

/// <summary>What a coar_concept handle points at: an immutable concept, the base model it belongs to, its C strings.</summary>
internal sealed class NativeConcept(Concept concept, string baseModel)
{
    public Concept Concept { get; } = concept;
    public string BaseModel { get; } = baseModel;
    public NativeStrings Strings { get; } = new(concept.Placeholder, concept.ClassNoun, baseModel);
}
