using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.SafeTensors;

namespace CoAR.Engine.Native;

/// <summary>coar_status in coar.h: what a C caller gets instead of an exception.</summary>
public enum NativeStatus
{
    Ok = 0,
    InvalidArgument = 1,
    InvalidHandle = 2,
    NotFound = 3,
    BadFile = 4,
    Device = 5,
    OutOfMemory = 6,
    Cancelled = 7,
    Busy = 8,
    Io = 9,
    Internal = 10,
}

/// <summary>Maps the engine's exceptions to statuses, as the CLI maps them to exit codes.</summary>
internal static class NativeStatuses
{
    public static NativeStatus Of(Exception e) => e switch
    {
        NativeCallException n => n.Status,
        OperationCanceledException => NativeStatus.Cancelled,
        FileNotFoundException or DirectoryNotFoundException => NativeStatus.NotFound,
        ModelFormatException or SafeTensorsException or TokenizerFormatException or InvalidDataException => NativeStatus.BadFile,
        ArgumentException => NativeStatus.InvalidArgument,
        DeviceUnavailableException or CudaException or KernelCompileException => NativeStatus.Device,
        OutOfMemoryException or InsufficientExecutionStackException => NativeStatus.OutOfMemory,
        IOException or UnauthorizedAccessException => NativeStatus.Io,
        _ => NativeStatus.Internal,
    };

    public static string Name(NativeStatus status) => status switch
    {
        NativeStatus.Ok => "COAR_OK",
        NativeStatus.InvalidArgument => "COAR_ERROR_INVALID_ARGUMENT",
        NativeStatus.InvalidHandle => "COAR_ERROR_INVALID_HANDLE",
        NativeStatus.NotFound => "COAR_ERROR_NOT_FOUND",
        NativeStatus.BadFile => "COAR_ERROR_BAD_FILE",
        NativeStatus.Device => "COAR_ERROR_DEVICE",
        NativeStatus.OutOfMemory => "COAR_ERROR_OUT_OF_MEMORY",
        NativeStatus.Cancelled => "COAR_ERROR_CANCELLED",
        NativeStatus.Busy => "COAR_ERROR_BUSY",
        NativeStatus.Io => "COAR_ERROR_IO",
        NativeStatus.Internal => "COAR_ERROR_INTERNAL",
        _ => "COAR_STATUS_UNKNOWN",
    };
}

/// <summary>A failure the C API itself detects (a bad handle, a busy engine, a NULL argument), with its status.</summary>
internal sealed class NativeCallException(NativeStatus status, string message) : Exception(message)
{
    public NativeStatus Status { get; } = status;
}
