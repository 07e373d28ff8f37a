using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Model;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// Packs one step of a <see cref="ContinuousBatch"/> into one forward: for an image that joins, its prompt and image
/// header (conditional row) and its unconditional prefix and header, with their identity tags and context slots; for
/// a running image, its last body token on each of its rows. Logit rows come in the order of the images given, all
/// conditional rows first, then the unconditional rows of the guided images.
/// </summary>
internal sealed class StepPacker
{
    private readonly List<int> _tokens = new(), _rows = new(), _positions = new(), _tags = new();
    private readonly List<int> _condLogits = new(), _uncondLogits = new();
    private readonly List<ContextInjection> _injections = new();
    private readonly Dictionary<ContextTable, int> _tableOffsets = new(ReferenceEqualityComparer.Instance);
    private readonly List<ContextTable> _tables = new();
    private int _tableRows;

    /// <summary>Packs <paramref name="images"/>, guided ones first (their logit rows are combined with the unconditional ones).</summary>
    public static StepPacker Pack(IReadOnlyList<BatchImage> images)
    {
        var packer = new StepPacker();
        foreach (var image in images) packer.Add(image);
        return packer;
    }

    public int TokenCount => _tokens.Count;

    public ForwardBatch Batch() =>
        new(_tokens.ToArray(), _rows.ToArray(), _positions.ToArray(), _tags.ToArray(), [.. _condLogits, .. _uncondLogits])
        {
            Injections = _injections.ToArray(),
        };

    /// <summary>The context tokens [rows, hidden] the batch's injections read (the joining images' tables, one after another), or null.</summary>
    public (float[] Values, int Rows, int Hidden)? ContextTable()
    {
        if (_tables.Count == 0) return null;
        int hidden = _tables[0].Hidden;
        var values = new float[_tableRows * hidden];
        foreach (var table in _tables)
            table.Values().CopyTo(values, _tableOffsets[table] * hidden);
        return (values, _tableRows, hidden);
    }

    private void Add(BatchImage image)
    {
        var r = image.Request;
        if (image.Prefilled)
        {
            int token = image.Body[^1];
            _condLogits.Add(Append(token, image.CondRow, image.CondPosition, 0));
            if (image.Guided) _uncondLogits.Add(Append(token, image.UncondRow, image.UncondPosition, 0));
            return;
        }
        _condLogits.Add(AppendPrefill(image.CondRow, r.PromptTokens, r.Conditional, r.Layout.Header, r.Context));
        if (image.Guided)
            _uncondLogits.Add(AppendPrefill(image.UncondRow, r.UnconditionalPrefix?.Tokens ?? [], r.UnconditionalPrefix, r.Layout.Header, r.Context));
    }

    private int Append(int token, int row, int position, int tag)
    {
        _tokens.Add(token);
        _rows.Add(row);
        _positions.Add(position);
        _tags.Add(tag);
        return _tokens.Count - 1;
    }

    /// <returns>The packed index of the row's last token, whose logits draw the first body token.</returns>
    private int AppendPrefill(int row, int[] prefix, ConceptSequence? concepts, int[] header, ContextTable? table)
    {
        int offset = _tokens.Count;
        for (int i = 0; i < prefix.Length; i++)
            Append(prefix[i], row, i, concepts is not null && i < concepts.Tags.Length ? concepts.Tags[i] : 0);
        for (int i = 0; i < header.Length; i++)
            Append(header[i], row, prefix.Length + i, 0);
        if (concepts is not null && concepts.Injections.Count > 0)
        {
            int baseRow = TableOffset(table ?? throw new ArgumentException("a request has context slots but no context table"));
            foreach (var injection in concepts.InjectionsAt(offset))
                _injections.Add(injection with { BaseRow = injection.BaseRow + baseRow });
        }
        return _tokens.Count - 1;
    }

    private int TableOffset(ContextTable table)
    {
        if (_tableOffsets.TryGetValue(table, out int offset)) return offset;
        if (_tables.Count > 0 && _tables[0].Hidden != table.Hidden)
            throw new ArgumentException($"concepts of hidden size {table.Hidden} and {_tables[0].Hidden} cannot run in one forward");
        _tableOffsets[table] = _tableRows;
        _tables.Add(table);
        _tableRows += table.Rows;
        return _tableRows - table.Rows;
    }
}
