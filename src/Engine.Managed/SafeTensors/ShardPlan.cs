namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>Splits tensors, kept in declaration order, into contiguous runs of roughly equal bytes.</summary>
internal static class ShardPlan
{
    /// <summary>
    /// The shard of each tensor: non-decreasing, every shard non-empty. A new shard starts at the first tensor whose
    /// midpoint lies past the current shard's share (k/N of the total bytes).
    /// </summary>
    public static int[] Assign(IReadOnlyList<long> sizes, int shardCount)
    {
        if (shardCount < 1 || shardCount > sizes.Count)
            throw new ArgumentOutOfRangeException(nameof(shardCount), shardCount,
                $"{sizes.Count} tensors cannot fill {shardCount} shards: each shard needs at least one tensor");
        Int128 total = 0;
        foreach (long size in sizes)
            total += size;

        var plan = new int[sizes.Count];
        int shard = 0, inShard = 0;
        Int128 before = 0;
        for (int i = 0; i < sizes.Count; i++)
        {
            if (shard < shardCount - 1 && inShard > 0)
            {
                bool mustAdvance = sizes.Count - i == shardCount - 1 - shard;
                bool pastShare = (2 * before + sizes[i]) * shardCount > 2 * (shard + 1) * total;
                if (mustAdvance || pastShare)
                {
                    shard++;
                    inShard = 0;
                }
            }
            plan[i] = shard;
            inShard++;
            before += sizes[i];
        }
        return plan;
    }
}
