using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// Where each token of a packed batch belongs: its KV-cache row, its position in that row (also its RoPE position),
/// and its identity tag (0 for ordinary tokens, a positive tag per concept). Three I32 tensors of length T.
/// Query t attends key j of its row iff j &lt;= Positions[t] and not (tag[t] != 0 and tag[j] != 0 and tag[t] != tag[j]).
/// </summary>
public sealed record TokenMap(Tensor Rows, Tensor Positions, Tensor Tags)
{
    public int Count => Rows.Dim(0);
}
