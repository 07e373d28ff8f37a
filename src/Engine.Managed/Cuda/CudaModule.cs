using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>A loaded kernel image (CUBIN, PTX or fatbin) and the kernels found in it, by name.</summary>
public sealed unsafe class CudaModule : CudaResource
{
    private const int JitLogBytes = 8192;
    private readonly nint handle;
    private readonly Dictionary<string, CudaKernel> kernels = new(StringComparer.Ordinal);

    internal CudaModule(CudaContext context, ReadOnlySpan<byte> image, string name, string? imageDescription) : base(context)
    {
        Name = name;
        ImageDescription = imageDescription;
        context.MakeCurrent();
        // PTX must end in a NUL; CUBIN and fatbin carry their own size, so the extra byte is harmless there.
        var copy = (byte*)NativeMemory.Alloc((nuint)image.Length + 1);
        var log = (byte*)NativeMemory.AllocZeroed(JitLogBytes);
        try
        {
            image.CopyTo(new Span<byte>(copy, image.Length));
            copy[image.Length] = 0;
            var options = stackalloc CuJitOption[] { CuJitOption.ErrorLogBuffer, CuJitOption.ErrorLogBufferSizeBytes };
            var values = stackalloc void*[] { log, (void*)JitLogBytes };
            nint module;
            var result = CuNative.cuModuleLoadDataEx(&module, copy, 2, options, values);
            if (result != CuResult.Success)
                throw CudaCheck.Failure(result, "cuModuleLoadDataEx", module: name, hint: LoadHint(result, imageDescription, NativeUtf8Strings.Read(log)));
            handle = module;
        }
        finally
        {
            NativeMemory.Free(copy);
            NativeMemory.Free(log);
        }
        Register();
    }

    /// <summary>The module's name in messages: its kernel file ("rows.cu").</summary>
    public string Name { get; }

    /// <summary>What the image is ("CUBIN for sm_90 from NVRTC 12.4"), when the loader was told.</summary>
    public string? ImageDescription { get; }

    public nint Handle
    {
        get
        {
            ThrowIfDisposed();
            return handle;
        }
    }

    /// <summary>A kernel by its extern "C" name; looked up once, then cached.</summary>
    public CudaKernel GetKernel(string kernelName)
    {
        lock (kernels)
        {
            if (kernels.TryGetValue(kernelName, out var kernel))
                return kernel;
            Context.MakeCurrent();
            nint function;
            using (var text = new NativeUtf8Strings(kernelName))
                CudaCheck.Ok(CuNative.cuModuleGetFunction(&function, Handle, text[0]), "cuModuleGetFunction", kernelName, Name);
            kernel = new CudaKernel(this, kernelName, function);
            kernels.Add(kernelName, kernel);
            return kernel;
        }
    }

    private static string? LoadHint(CuResult result, string? imageDescription, string? jitLog)
    {
        var hint = result is CuResult.NoBinaryForGpu or CuResult.InvalidPtx or CuResult.UnsupportedPtxVersion or CuResult.InvalidImage
            ? CudaErrorHints.ImageMismatch(imageDescription)
            : CudaErrorHints.For(result);
        return string.IsNullOrWhiteSpace(jitLog) ? hint : $"{hint} JIT log: {jitLog.Trim()}";
    }

    internal override CuResult Release() => CuNative.cuModuleUnload(handle);

    internal override string ReleaseCall => "cuModuleUnload";
}
