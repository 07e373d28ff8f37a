namespace CoAR.Engine.Graph.Model;

/// <summary>
/// Tokens of one forward pass, packed: token t is run at (Rows[t], Positions[t]) of the KV cache with identity tag
/// Tags[t]. Rows may differ in length and mix prefill and decode. Logits are computed only for the packed indices
/// in <see cref="LogitIndices"/>, in that order.
/// </summary>
public sealed record ForwardBatch(int[] Tokens, int[] Rows, int[] Positions, int[] Tags, int[] LogitIndices)
{
    public int Count => Tokens.Length;

    /// <summary>Context-token slots to overwrite layer by layer (see <see cref="ContextInjection"/>); none by default.</summary>
    public IReadOnlyList<ContextInjection> Injections { get; init; } = [];

    /// <summary>One row's tokens at positions start, start+1, ...; logits for its last token.</summary>
    public static ForwardBatch Single(ReadOnlySpan<int> tokens, int row = 0, int start = 0)
    {
        var positions = new int[tokens.Length];
        for (int i = 0; i < positions.Length; i++) positions[i] = start + i;
        return new ForwardBatch(tokens.ToArray(), Enumerable.Repeat(row, tokens.Length).ToArray(), positions,
            new int[tokens.Length], tokens.Length == 0 ? [] : [tokens.Length - 1]);
    }

    /// <summary>Several rows packed one after another, each starting at the given position; logits for each row's last token.</summary>
    public static ForwardBatch Packed(IReadOnlyList<int[]> rowTokens, IReadOnlyList<int>? starts = null)
    {
        var tokens = new List<int>();
        var rows = new List<int>();
        var positions = new List<int>();
        var logits = new List<int>();
        for (int r = 0; r < rowTokens.Count; r++)
        {
            int start = starts?[r] ?? 0;
            for (int i = 0; i < rowTokens[r].Length; i++)
            {
                tokens.Add(rowTokens[r][i]);
                rows.Add(r);
                positions.Add(start + i);
            }
            if (rowTokens[r].Length > 0) logits.Add(tokens.Count - 1);
        }
        return new ForwardBatch(tokens.ToArray(), rows.ToArray(), positions.ToArray(), new int[tokens.Count], logits.ToArray());
    }

    public void Validate(int vocabSize, KvCache cache)
    {
        int n = Tokens.Length;
        if (Rows.Length != n || Positions.Length != n || Tags.Length != n)
            throw new ArgumentException($"forward batch: {n} tokens but {Rows.Length} rows, {Positions.Length} positions, {Tags.Length} tags");
        for (int t = 0; t < n; t++)
        {
            if ((uint)Tokens[t] >= (uint)vocabSize)
                throw new ArgumentOutOfRangeException(nameof(Tokens), $"forward batch: token {t} has id {Tokens[t]}, outside the vocabulary [0, {vocabSize})");
            if ((uint)Rows[t] >= (uint)cache.Rows)
                throw new ArgumentOutOfRangeException(nameof(Rows), $"forward batch: token {t} is in row {Rows[t]}; the KV cache has {cache.Rows} rows");
            if ((uint)Positions[t] >= (uint)cache.Capacity)
                throw new ArgumentOutOfRangeException(nameof(Positions), $"forward batch: token {t} is at position {Positions[t]}; the KV cache holds {cache.Capacity} per row");
            if (Tags[t] < 0)
                throw new ArgumentOutOfRangeException(nameof(Tags), $"forward batch: token {t} has identity tag {Tags[t]}; tags are 0 or positive");
        }
        foreach (int i in LogitIndices)
            if ((uint)i >= (uint)n)
                throw new ArgumentOutOfRangeException(nameof(LogitIndices), $"forward batch: logit index {i} is outside the {n} tokens");
        foreach (var inj in Injections)
            if ((uint)inj.Token >= (uint)n || inj.Depth < 0 || inj.BaseRow < 0 || inj.Stride < 0)
                throw new ArgumentOutOfRangeException(nameof(Injections), $"forward batch: context slot {inj} does not fit the {n} tokens");
    }

    /// <summary>The slots to overwrite at the input of <paramref name="layer"/>: (token indices, context table rows).</summary>
    public (int[] Tokens, int[] TableRows) InjectionsAt(int layer) => At(layer, add: false);

    /// <summary>The additive injections at the input of <paramref name="layer"/> (index embeddings): (token indices, context table rows).</summary>
    public (int[] Tokens, int[] TableRows) AdditionsAt(int layer) => At(layer, add: true);

    private (int[] Tokens, int[] TableRows) At(int layer, bool add)
    {
        var active = Injections.Where(i => i.Depth > layer && i.Add == add).ToArray();
        return (active.Select(i => i.Token).ToArray(), active.Select(i => i.TableRow(layer)).ToArray());
    }
}
