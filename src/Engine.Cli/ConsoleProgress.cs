namespace CoAR.Engine.Cli;

/// <summary>
/// Progress reported on the reporting thread, in order. <see cref="Progress{T}"/> posts each report to the thread pool
/// when there is no synchronization context (a console app), so lines can come out of order or after the command's
/// last line (a `--json` summary).
/// </summary>
public sealed class ConsoleProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
