namespace CoAR.Engine.Graph.Concepts;

/// <summary>
/// The context tokens of several concepts as one table of rows of the hidden size (what the forward's injections
/// read): concept c occupies rows [Base(c), Base(c) + TableRows), its text block [layer, slot] first, then its
/// image block [layer, slot], then its index vector (if it has one).
/// </summary>
public sealed class ContextTable
{
    private readonly int[] _bases;

    public ContextTable(IReadOnlyList<Concept> concepts)
    {
        if (concepts.Count == 0) throw new ArgumentException("a context table needs at least one concept");
        Concepts = concepts;
        Hidden = concepts[0].Hidden;
        if (concepts.Any(c => c.Hidden != Hidden))
            throw new ArgumentException("concepts of different hidden sizes cannot be used together");
        _bases = new int[concepts.Count];
        int rows = 0;
        for (int c = 0; c < concepts.Count; c++)
        {
            _bases[c] = rows;
            rows += concepts[c].TableRows;
        }
        Rows = rows;
    }

    public IReadOnlyList<Concept> Concepts { get; }
    public int Rows { get; }
    public int Hidden { get; }

    public int IndexOf(Concept concept)
    {
        for (int c = 0; c < Concepts.Count; c++)
            if (ReferenceEquals(Concepts[c], concept)) return c;
        throw new ArgumentException($"concept '{concept.Placeholder}' is not in this context table");
    }

    public int TextRow(int concept, int layer, int slot) => _bases[concept] + layer * Concepts[concept].TextSlots + slot;

    public int ImageRow(int concept, int layer, int slot)
    {
        var c = Concepts[concept];
        return _bases[concept] + c.Depth * c.TextSlots + layer * c.ImageSlots + slot;
    }

    /// <summary>The row of concept <paramref name="concept"/>'s index vector (it must have one).</summary>
    public int IndexRow(int concept)
    {
        var c = Concepts[concept];
        if (c.Index is null) throw new ArgumentException($"concept '{c.Placeholder}' has no index embedding");
        return _bases[concept] + c.Depth * (c.TextSlots + c.ImageSlots);
    }

    /// <summary>The table's values [Rows, Hidden] from the concepts' current tokens.</summary>
    public float[] Values()
    {
        var values = new float[Rows * Hidden];
        for (int c = 0; c < Concepts.Count; c++)
            Concepts[c].ReadParameters(values.AsSpan(_bases[c] * Hidden, Concepts[c].Parameters));
        return values;
    }

    /// <summary>Concept <paramref name="concept"/>'s share of a table-shaped gradient [Rows, Hidden], laid out as its parameters.</summary>
    public float[] ParameterGradient(ReadOnlySpan<float> tableGradient, int concept) =>
        tableGradient.Slice(_bases[concept] * Hidden, Concepts[concept].Parameters).ToArray();
}
