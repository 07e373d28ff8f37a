using System.CommandLine;
using CoAR.Engine.Managed.Backends;

namespace CoAR.Engine.Cli;

/// <summary>--device auto|cpu|cuda|cuda:N, shared by every command that runs a model.</summary>
public static class DeviceOption
{
    public static Option<string> Create(string fallback = "auto")
    {
        var option = new Option<string>("--device")
        {
            Description = "Where to run: auto (the GPU once it has passed its self-test here, else the CPU), cpu, cuda, or cuda:N",
            DefaultValueFactory = _ => fallback,
        };
        option.Validators.Add(result =>
        {
            string value = result.GetValueOrDefault<string>() ?? "";
            if (value is "auto" or "cpu" or "cuda" || (value.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(value[5..], out int n) && n >= 0))
                return;
            result.AddError($"--device '{value}': expected one of {string.Join(", ", BackendFactory.DeviceNames)} or cuda:N");
        });
        return option;
    }

    /// <summary>The backend for a --device value; says on stderr how it was chosen (<see cref="Report"/>).</summary>
    public static IBackend Open(string device)
    {
        var selection = BackendFactory.Open(device);
        Report(selection);
        return selection.Backend;
    }

    /// <summary>
    /// Says on stderr what the user should know about the device: that "auto" fell back to the CPU, with the first
    /// line of why (`coar info` has the rest); that a GPU asked for by name failed its self-test; that the self-test
    /// ran now (the first use of this GPU with this driver, compiler and engine), or could not be kept.
    /// </summary>
    public static void Report(BackendSelection selection)
    {
        if (selection.FallbackReason is { } reason)
        {
            string first = reason.Split('\n')[0];
            int trace = first.IndexOf("; tried", StringComparison.Ordinal);
            if (trace > 0) first = first[..trace];
            string more = first.Contains("`coar info", StringComparison.Ordinal) ? "" : "; `coar info` says more";
            Console.Error.WriteLine($"note: running on the CPU backend ({first}{more})");
        }
        if (selection.Warning is { } warning)
            Console.Error.WriteLine($"warning: {warning}");
        if (selection is { SelfTestRanNow: true, SelfTest.Passed: true, FallbackReason: null })
            Console.Error.WriteLine($"note: {selection.Backend.Name} {selection.SelfTest.Summary} of its self-test (its first use here); `coar info` shows it");
        if (selection.SelfTestKeepError is { } keepError)
            Console.Error.WriteLine($"note: {keepError}; it will run again next time");
    }
}
