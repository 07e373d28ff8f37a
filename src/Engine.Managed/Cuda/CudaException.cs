namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// A CUDA driver call that failed: which call, the driver's error name and description, the kernel and module involved
/// when there is one, and a hint at the usual cause.
/// </summary>
public sealed class CudaException : Exception
{
    public CudaException(string apiCall, int errorCode, string errorName, string errorDescription, string? kernel = null,
        string? module = null, string? hint = null)
        : base(Compose(apiCall, errorName, errorDescription, kernel, module, hint))
    {
        ApiCall = apiCall;
        ErrorCode = errorCode;
        ErrorName = errorName;
        ErrorDescription = errorDescription;
        Kernel = kernel;
        Module = module;
        Hint = hint;
    }

    /// <summary>The driver entry point that failed ("cuMemAlloc_v2").</summary>
    public string ApiCall { get; }

    /// <summary>The CUresult number.</summary>
    public int ErrorCode { get; }

    /// <summary>The driver's name for the error ("CUDA_ERROR_OUT_OF_MEMORY").</summary>
    public string ErrorName { get; }

    /// <summary>The driver's description of the error ("out of memory").</summary>
    public string ErrorDescription { get; }

    public string? Kernel { get; }

    public string? Module { get; }

    public string? Hint { get; }

    private static string Compose(string call, string name, string description, string? kernel, string? module, string? hint)
    {
        var where = (kernel, module) switch
        {
            (not null, not null) => $" (kernel {kernel} in module {module})",
            (not null, null) => $" (kernel {kernel})",
            (null, not null) => $" (module {module})",
            _ => "",
        };
        return $"{call} failed{where}: {name}: {description}.{(hint is null ? "" : " " + hint)}";
    }
}
