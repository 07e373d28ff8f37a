using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// One NVRTC compilation: a source file plus the headers it may include by name, compiled with a set of options to a
/// CUBIN or PTX. Every NVRTC failure becomes a <see cref="KernelCompileException"/> carrying the log.
/// </summary>
internal static unsafe class NvrtcProgram
{
    /// <summary>Compiles and returns the image (CUBIN bytes, or NUL-free PTX text as bytes) and NVRTC's log.</summary>
    public static (byte[] Image, string Log) Compile(string fileName, string source, IReadOnlyList<KeyValuePair<string, string>> headers,
        IReadOnlyList<string> options, KernelTarget target)
    {
        Nvrtc.Require();
        nint program = 0;
        using var text = new NativeUtf8Strings(source, fileName);
        using var headerSources = new NativeUtf8Strings([.. headers.Select(h => h.Value)]);
        using var headerNames = new NativeUtf8Strings([.. headers.Select(h => h.Key)]);
        using var optionTexts = new NativeUtf8Strings([.. options]);
        Check(NvrtcNative.nvrtcCreateProgram(&program, text[0], text[1], headers.Count, headerSources.Pointers, headerNames.Pointers),
            "nvrtcCreateProgram", fileName, options, "");
        try
        {
            var compiled = NvrtcNative.nvrtcCompileProgram(program, options.Count, optionTexts.Pointers);
            var log = Log(program, fileName, options);
            Check(compiled, "nvrtcCompileProgram", fileName, options, log);
            return (target == KernelTarget.Cubin ? Cubin(program, fileName, options, log) : Ptx(program, fileName, options, log), log);
        }
        finally
        {
            // Destroying a program we created only fails for a bad handle; its result must not mask a compile error.
            NvrtcNative.nvrtcDestroyProgram(&program);
        }
    }

    private static string Log(nint program, string fileName, IReadOnlyList<string> options)
    {
        var text = Output(program, &NvrtcNative.nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", &NvrtcNative.nvrtcGetProgramLog,
            "nvrtcGetProgramLog", fileName, options, "");
        return System.Text.Encoding.UTF8.GetString(WithoutNul(text)).TrimEnd();
    }

    private static byte[] Cubin(nint program, string fileName, IReadOnlyList<string> options, string log) =>
        Output(program, &NvrtcNative.nvrtcGetCUBINSize, "nvrtcGetCUBINSize", &NvrtcNative.nvrtcGetCUBIN, "nvrtcGetCUBIN", fileName, options, log);

    /// <summary>PTX without its terminating NUL (the module loader adds one back).</summary>
    private static byte[] Ptx(nint program, string fileName, IReadOnlyList<string> options, string log) =>
        WithoutNul(Output(program, &NvrtcNative.nvrtcGetPTXSize, "nvrtcGetPTXSize", &NvrtcNative.nvrtcGetPTX, "nvrtcGetPTX", fileName, options, log)).ToArray();

    /// <summary>NVRTC's two-step read of an output: ask its size, then have it copied into a buffer of that size.</summary>
    private static byte[] Output(nint program, delegate*<nint, nuint*, NvrtcResult> getSize, string sizeCall,
        delegate*<nint, byte*, NvrtcResult> get, string getCall, string fileName, IReadOnlyList<string> options, string log)
    {
        nuint size;
        Check(getSize(program, &size), sizeCall, fileName, options, log);
        var bytes = new byte[size];
        fixed (byte* p = bytes)
            Check(get(program, p), getCall, fileName, options, log);
        return bytes;
    }

    private static ReadOnlySpan<byte> WithoutNul(byte[] text) => text.AsSpan(0, text.Length > 0 && text[^1] == 0 ? text.Length - 1 : text.Length);

    private static void Check(NvrtcResult result, string call, string fileName, IReadOnlyList<string> options, string log)
    {
        if (result == NvrtcResult.Success)
            return;
        var error = Nvrtc.Describe(result);
        if (result == NvrtcResult.BuiltinOperationFailure)
            error += " (NVRTC could not load libnvrtc-builtins: it must sit beside libnvrtc or be on LD_LIBRARY_PATH)";
        throw new KernelCompileException(fileName, call, error, options, log);
    }
}
