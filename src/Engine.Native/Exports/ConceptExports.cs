using System.Runtime.InteropServices;
using CoAR.Engine.Graph.Concepts;

namespace CoAR.Engine.Native.Exports;

/// <summary>coar.h, "concepts": load, save, rename, info, free.</summary>
internal static unsafe class ConceptExports
{
    [UnmanagedCallersOnly(EntryPoint = "coar_concept_load")]
    public static int Load(byte* path, nint engine, nint* concept) => NativeCall.Run(() =>
    {
        const string call = "coar_concept_load";
        NativeCall.RequireOutput(concept, call, "concept");
        string file = NativeStrings.Required(path, $"{call}: path");
        string? expected = engine == 0 ? null : HandleTable.Get<NativeEngine>(engine, $"{call}: engine").Engine.Fingerprint;
        var info = ConceptFile.Load(file, expected);
        *concept = HandleTable.Add(new NativeConcept(info.Concept, info.BaseModel));
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_concept_save")]
    public static int Save(nint concept, byte* path) => NativeCall.Run(() =>
    {
        const string call = "coar_concept_save";
        var c = HandleTable.Get<NativeConcept>(concept, $"{call}: concept");
        string file = NativeStrings.Required(path, $"{call}: path");
        ConceptFile.Save(file, c.Concept, c.BaseModel);
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_concept_with_placeholder")]
    public static int WithPlaceholder(nint concept, byte* placeholder, nint* renamed) => NativeCall.Run(() =>
    {
        const string call = "coar_concept_with_placeholder";
        NativeCall.RequireOutput(renamed, call, "renamed");
        var c = HandleTable.Get<NativeConcept>(concept, $"{call}: concept");
        string name = NativeStrings.Required(placeholder, $"{call}: placeholder");
        *renamed = HandleTable.Add(new NativeConcept(c.Concept.WithPlaceholder(name), c.BaseModel));
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_concept_info_get")]
    public static int Info(nint concept, NativeConceptInfo* info) => NativeCall.Run(() =>
    {
        NativeCall.RequireOutput(info, "coar_concept_info_get", "info");
        var c = HandleTable.Get<NativeConcept>(concept, "coar_concept_info_get: concept");
        var k = c.Concept;
        *info = new NativeConceptInfo
        {
            Kind = k.Kind == ConceptKind.Style ? 1 : 0, Placeholder = c.Strings[0], ClassNoun = c.Strings[1], BaseModel = c.Strings[2],
            Depth = k.Depth, TextSlots = k.TextSlots, ImageSlots = k.ImageSlots, HiddenSize = k.Hidden,
        };
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_concept_free")]
    public static int Free(nint concept) => NativeCall.Run(() =>
    {
        if (concept == 0) return;
        var c = HandleTable.Get<NativeConcept>(concept, "coar_concept_free: concept");
        if (!HandleTable.Remove(concept, c))
            throw new NativeCallException(NativeStatus.InvalidHandle, "coar_concept_free: the concept handle has already been freed");
    });
}
