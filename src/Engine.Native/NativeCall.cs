namespace CoAR.Engine.Native;

/// <summary>
/// The body of every export: runs it, and turns any exception into a status and coar_last_error() text, so no
/// managed exception ever reaches a C caller (one would end the process).
/// </summary>
internal static class NativeCall
{
    static NativeCall() => BundledLibraries.Register();

    public static int Run(Action body)
    {
        try
        {
            body();
            return (int)NativeStatus.Ok;
        }
        catch (Exception e)
        {
            return (int)LastError.Set(e);
        }
    }

    /// <summary>Runs a long call under its cancellation, naming the cause when it stops.</summary>
    public static void Cancellable(CallCancellation cancellation, string call, Action<CancellationToken> body)
    {
        try
        {
            cancellation.ThrowIfCancelled();
            body(cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.Token.IsCancellationRequested)
        {
            throw new NativeCallException(NativeStatus.Cancelled, $"{call}: {cancellation.Reason}");
        }
    }

    public static NativeCallException InvalidArgument(string message) => new(NativeStatus.InvalidArgument, message);

    /// <summary>Checks an output pointer before any work, so a failure never leaves a half-made result.</summary>
    public static unsafe void RequireOutput(void* output, string call, string name)
    {
        if (output == null) throw InvalidArgument($"{call}: {name} (the output pointer) is NULL");
    }
}
