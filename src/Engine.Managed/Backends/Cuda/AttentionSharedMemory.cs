using System.Runtime.CompilerServices;
using CoAR.Engine.Managed.Cuda;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// Raises a kernel's dynamic shared-memory limit once, for the attention kernels whose tiles pass the 48 KiB a launch
/// gets by default (CUDA needs cuFuncSetAttribute first). Remembers what each kernel was granted, so a launch after
/// the first makes no driver call and allocates nothing.
/// </summary>
internal static class AttentionSharedMemory
{
    private const int DefaultLimit = 48 * 1024;

    private static readonly ConditionalWeakTable<CudaKernel, StrongBox<int>> Granted = new();

    public static void Ensure(CudaKernel kernel, int bytes)
    {
        if (bytes <= DefaultLimit) return;
        if (Granted.TryGetValue(kernel, out var granted) && granted.Value >= bytes) return;
        kernel.SetMaxDynamicSharedMemory(bytes);
        Granted.AddOrUpdate(kernel, new StrongBox<int>(bytes));
    }
}
