namespace CoAR.Engine.Graph.Concepts;

/// <summary>
/// The context tokens of several concepts as one table of rows of the hidden size (what the forward's injections
/// read): concept c occupies rows [Base(c), Base(c) + Depth * (kT + kI)), its text block [layer, slot] first, then its
/// image block [layer, slot].
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

    /// <summary>The table's values [Rows, Hidden] from the concepts' current tokens.</summary>
    public float[] Values()
    {
        var values = new float[Rows * Hidden];
        for (int c = 0; c < Concepts.Count; c++)
        {
            Concepts[c].Text.CopyTo(values, TextRow(c, 0, 0) * Hidden);
            Concepts[c].Image.CopyTo(values, ImageRow(c, 0, 0) * Hidden);
        }
        return values;
    }

    /// <summary>Splits a table-shaped gradient [Rows, Hidden] into each concept's text and image gradients (added to them).</summary>
    public void AccumulateInto(ReadOnlySpan<float> tableGradient, IReadOnlyList<(float[] Text, float[] Image)> gradients)
    {
        for (int c = 0; c < Concepts.Count; c++)
        {
            Add(tableGradient.Slice(TextRow(c, 0, 0) * Hidden, gradients[c].Text.Length), gradients[c].Text);
            Add(tableGradient.Slice(ImageRow(c, 0, 0) * Hidden, gradients[c].Image.Length), gradients[c].Image);
        }
    }

    private static void Add(ReadOnlySpan<float> source, float[] target)
    {
        for (int i = 0; i < target.Length; i++) target[i] += source[i];
    }
}
