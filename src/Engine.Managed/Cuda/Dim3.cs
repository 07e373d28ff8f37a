namespace CoAR.Engine.Managed.Cuda;

/// <summary>A grid or block shape for a kernel launch.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public static implicit operator Dim3(int x) => new(checked((uint)x));

    public static implicit operator Dim3(uint x) => new(x);

    /// <summary>Enough blocks of <paramref name="threadsPerBlock"/> to give each of <paramref name="elements"/> a thread, capped at <paramref name="maxBlocks"/>.</summary>
    public static Dim3 BlocksFor(long elements, int threadsPerBlock, uint maxBlocks = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threadsPerBlock);
        long blocks = Math.Max(1, (elements + threadsPerBlock - 1) / threadsPerBlock);
        return new Dim3((uint)Math.Min(blocks, maxBlocks));
    }

    public long Count => (long)X * Y * Z;

    public override string ToString() => $"({X}, {Y}, {Z})";
}
