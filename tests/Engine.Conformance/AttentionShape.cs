namespace CoAR.Engine.Conformance;

/// <summary>
/// The state before an attention call: a KV cache holding each row's context, then new tokens stored after it, and
/// their queries. Contexts[r] tokens were cached earlier in row r; NewTokens[r] tokens at positions Contexts[r]... are
/// the queries, in row order or dealt out round-robin across rows (Interleave: a packing the kernels must handle
/// though the model never makes it). Tagged draws identity tags 0..2 for every token. Cache slots past the stored
/// ones stay NaN, so reading them poisons the output.
/// </summary>
public sealed record AttentionShape(int[] Contexts, int[] NewTokens, int Heads, int KvHeads, int HeadDim, bool Tagged = false, bool Interleave = false)
{
    public override string ToString() =>
        $"rows={Rows(Contexts, NewTokens)},H={Heads},Hkv={KvHeads},Dh={HeadDim}{(Tagged ? ",tags" : "")}{(Interleave ? ",interleaved" : "")}";

    private static string Rows(int[] contexts, int[] news) =>
        "[" + string.Join(",", contexts.Zip(news, (c, n) => c == 0 ? $"{n}" : $"{c}+{n}")) + "]";
}
