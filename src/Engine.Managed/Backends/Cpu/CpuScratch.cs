using System.Runtime.CompilerServices;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>A thread's reusable scratch buffers: pinned, so their addresses hold, and 64-byte aligned for AVX-512 rows.</summary>
internal static unsafe class CpuScratch
{
    /// <summary>At least <paramref name="floats"/> floats at a 64-byte boundary from <paramref name="buffer"/>, grown when too small.</summary>
    public static float* Aligned(ref float[]? buffer, long floats)
    {
        if (buffer is null || buffer.Length < floats + 16) buffer = GC.AllocateUninitializedArray<float>(checked((int)floats + 16), pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref buffer[0]);
        return (float*)((address + 63) & ~(nint)63);
    }
}
