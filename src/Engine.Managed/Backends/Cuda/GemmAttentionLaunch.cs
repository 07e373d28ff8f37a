using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>Conversions the GEMM and attention launchers share when they fill kernel argument structs and grids.</summary>
internal static class GemmAttentionLaunch
{
    /// <summary>A tensor's device address as a kernel pointer parameter.</summary>
    public static ulong Address(Tensor t) => (ulong)t.Address;

    /// <summary>Whether 16-byte vector loads (cp.async, ld.v4) may start at the tensor.</summary>
    public static bool Aligned16(Tensor t) => t.Address % 16 == 0;

    /// <summary>A C int flag.</summary>
    public static int Flag(bool value) => value ? 1 : 0;

    /// <summary>Blocks of <paramref name="per"/> to cover <paramref name="count"/>.</summary>
    public static uint Blocks(long count, int per) => checked((uint)((count + per - 1) / per));
}
