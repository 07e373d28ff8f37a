using System.Runtime.CompilerServices;
using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>Turns a failed CUresult into a <see cref="CudaException"/> with the driver's name and text and a hint.</summary>
internal static unsafe class CudaCheck
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Ok(CuResult result, string call)
    {
        if (result != CuResult.Success)
            throw Failure(result, call);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Ok(CuResult result, string call, string? kernel, string? module)
    {
        if (result != CuResult.Success)
            throw Failure(result, call, kernel, module);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static CudaException Failure(CuResult result, string call, string? kernel = null, string? module = null, string? hint = null)
    {
        var (name, description) = Describe(result);
        hint ??= CudaErrorHints.For(result);
        // The stand-in names what went wrong (the kernel, its launch, the allocation): a GPU driver cannot.
        if (CudaStandIn.ReportOf(result) is { } report)
            hint = $"{hint} The CoAR CUDA stand-in reports: {report}";
        return new CudaException(call, (int)result, name, description, kernel, module, hint);
    }

    /// <summary>The driver's name and description of an error code (our own name when the driver does not know it).</summary>
    public static (string Name, string Description) Describe(CuResult result)
    {
        byte* name = null, text = null;
        bool named = CuNative.cuGetErrorName(result, &name) == CuResult.Success && name != null;
        bool described = CuNative.cuGetErrorString(result, &text) == CuResult.Success && text != null;
        return (named ? NativeUtf8Strings.Read(name)! : $"CUresult {(int)result}",
                described ? NativeUtf8Strings.Read(text)! : "unknown error");
    }
}
