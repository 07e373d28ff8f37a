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
        nuint size;
        Check(NvrtcNative.nvrtcGetProgramLogSize(program, &size), "nvrtcGetProgramLogSize", fileName, options, "");
        if (size <= 1)
            return "";
        var bytes = new byte[size];
        fixed (byte* p = bytes)
            Check(NvrtcNative.nvrtcGetProgramLog(program, p), "nvrtcGetProgramLog", fileName, options, "");
        return System.Text.Encoding.UTF8.GetString(bytes, 0, (int)size - 1).TrimEnd();
    }

    private static byte[] Cubin(nint program, string fileName, IReadOnlyList<string> options, string log)
    {
        nuint size;
        Check(NvrtcNative.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize", fileName, options, log);
        var bytes = new byte[size];
        fixed (byte* p = bytes)
            Check(NvrtcNative.nvrtcGetCUBIN(program, p), "nvrtcGetCUBIN", fileName, options, log);
        return bytes;
    }

    /// <summary>PTX without its terminating NUL (the module loader adds one back).</summary>
    private static byte[] Ptx(nint program, string fileName, IReadOnlyList<string> options, string log)
    {
        nuint size;
        Check(NvrtcNative.nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize", fileName, options, log);
        var bytes = new byte[size];
        fixed (byte* p = bytes)
            Check(NvrtcNative.nvrtcGetPTX(program, p), "nvrtcGetPTX", fileName, options, log);
        return bytes.AsSpan(0, Math.Max(0, bytes.Length - 1)).ToArray();
    }

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
