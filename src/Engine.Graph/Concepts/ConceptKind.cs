namespace CoAR.Engine.Graph.Concepts;

/// <summary>What a concept was trained on: a subject (3-5 photos of one thing) or a style (one reference image).</summary>
public enum ConceptKind
{
    Subject,
    Style,
}
