using System.Reflection;
using System.Runtime.InteropServices;
using CoAR.Engine.Tools;

namespace CoAR.Engine.Native.Exports;

/// <summary>coar.h, "the library": versions, errors, the built-in model.</summary>
internal static unsafe class LibraryExports
{
    /// <summary>coar.h's COAR_API_VERSION: major * 1000 + minor.</summary>
    public const int ApiVersion = 1001;

    private static readonly NativeStrings Version = new(
        typeof(LibraryExports).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");

    private static readonly NativeStrings StatusNames = new(
        Enumerable.Range(0, (int)NativeStatus.Internal + 2).Select(i => NativeStatuses.Name((NativeStatus)i)).ToArray());

    private static NativeStrings? _builtInModel;

    [UnmanagedCallersOnly(EntryPoint = "coar_version")]
    public static byte* CoarVersion() => Version[0];

    [UnmanagedCallersOnly(EntryPoint = "coar_api_version")]
    public static int CoarApiVersion() => ApiVersion;

    [UnmanagedCallersOnly(EntryPoint = "coar_last_error")]
    public static byte* CoarLastError() => LastError.Pointer;

    [UnmanagedCallersOnly(EntryPoint = "coar_status_name")]
    public static byte* CoarStatusName(int status) =>
        StatusNames[status is >= 0 and <= (int)NativeStatus.Internal ? status : (int)NativeStatus.Internal + 1];

    [UnmanagedCallersOnly(EntryPoint = "coar_builtin_model")]
    public static int CoarBuiltinModel(byte** modelDir) => NativeCall.Run(() =>
    {
        NativeCall.RequireOutput(modelDir, "coar_builtin_model", "model_dir");
        var strings = _builtInModel;
        if (strings is null)
        {
            strings = new NativeStrings(BuiltInModel.EnsureCreated());
            Interlocked.CompareExchange(ref _builtInModel, strings, null);
            strings = _builtInModel;
        }
        *modelDir = strings[0];
    });
}
