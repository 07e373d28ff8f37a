namespace CoAR.Engine.Managed.Cuda;

/// <summary>NVRTC could not compile a kernel file: the file, the options it was given, NVRTC's result and its full log.</summary>
public sealed class KernelCompileException : Exception
{
    public KernelCompileException(string kernelFile, string nvrtcCall, string nvrtcError, IReadOnlyList<string> options, string log)
        : base($"{nvrtcCall} failed for {kernelFile}: {nvrtcError}{Environment.NewLine}" +
               $"options: {string.Join(' ', options)}{Environment.NewLine}" +
               (log.Length == 0 ? "(NVRTC wrote no log)" : log))
    {
        KernelFile = kernelFile;
        NvrtcCall = nvrtcCall;
        NvrtcError = nvrtcError;
        Options = options;
        Log = log;
    }

    /// <summary>The kernel source file ("rows.cu").</summary>
    public string KernelFile { get; }

    public string NvrtcCall { get; }

    /// <summary>NVRTC's description of the result ("NVRTC_ERROR_COMPILATION").</summary>
    public string NvrtcError { get; }

    public IReadOnlyList<string> Options { get; }

    /// <summary>NVRTC's program log: every error and warning with file and line.</summary>
    public string Log { get; }
}
