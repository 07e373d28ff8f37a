using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// The CUDA backend's kernels and scratch memory: each kernels/*.cu file is compiled (or taken from the cache) and
/// loaded once, on first use; kernels are looked up once and kept. Scratch buffers are named, grow on demand and are
/// reused (split-K partial results, top-k histograms): a launch after warm-up allocates nothing.
/// </summary>
public sealed class KernelLibrary : IDisposable
{
    private readonly CudaContext _context;
    private readonly KernelCompiler _compiler;
    private readonly Dictionary<string, CudaModule> _modules = new(StringComparer.Ordinal);
    private readonly Dictionary<(string File, string Name), CudaKernel> _kernels = new();
    private readonly Dictionary<string, DeviceBuffer<byte>> _scratch = new(StringComparer.Ordinal);

    public KernelLibrary(CudaContext context, KernelCompiler compiler)
    {
        _context = context;
        _compiler = compiler;
    }

    public CudaContext Context => _context;
    public CudaDeviceInfo Device => _context.Device;

    /// <summary>The compiler the modules come from (its sources, cache and fatbin directory).</summary>
    public KernelCompiler Compiler => _compiler;

    /// <summary>The kernel a descriptor of a launch table names, its file's module loaded on first use.</summary>
    internal LoadedKernel<TArgs> Get<TArgs>(KernelDescriptor<TArgs> descriptor) where TArgs : unmanaged
    {
        var (file, name) = (descriptor.File, descriptor.Name);
        if (_kernels.TryGetValue((file, name), out var kernel)) return new(kernel);
        kernel = Load(file).GetKernel(name);
        _kernels[(file, name)] = kernel;
        return new(kernel);
    }

    /// <summary>The module of kernels/<paramref name="file"/>, compiled (or taken from the cache) and loaded on first use.</summary>
    public CudaModule Load(string file)
    {
        if (!_modules.TryGetValue(file, out var module))
        {
            module = _compiler.LoadModule(_context, file);
            _modules[file] = module;
        }
        return module;
    }

    /// <summary>A device address of at least <paramref name="bytes"/> bytes of scratch named <paramref name="name"/>; contents undefined.</summary>
    public ulong Scratch(string name, long bytes)
    {
        if (!_scratch.TryGetValue(name, out var buffer) || buffer.Length < bytes)
        {
            buffer?.Dispose();
            buffer = _context.Allocate<byte>(Math.Max(bytes, 256));
            _scratch[name] = buffer;
        }
        return buffer.Pointer;
    }

    public void Dispose()
    {
        foreach (var b in _scratch.Values) b.Dispose();
        _scratch.Clear();
        _kernels.Clear();
        foreach (var m in _modules.Values) m.Dispose();
        _modules.Clear();
    }
}
