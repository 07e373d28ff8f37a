using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>An aligned block of native host memory, freed once on Dispose.</summary>
internal sealed unsafe class HostMemory : IDisposable
{
    private void* _pointer;

    public HostMemory(long bytes)
    {
        if (bytes < 0) throw new ArgumentOutOfRangeException(nameof(bytes));
        // 64-byte alignment keeps every row of a float tensor friendly to 512-bit loads.
        _pointer = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);
        Bytes = bytes;
    }

    public long Bytes { get; }
    public nint Address => (nint)_pointer;

    public void Dispose()
    {
        var p = _pointer;
        _pointer = null;
        if (p != null) NativeMemory.AlignedFree(p);
        GC.SuppressFinalize(this);
    }

    ~HostMemory() => Dispose();
}
