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
            Description = "Where to run: auto (CUDA where it works, else CPU), cpu, cuda, or cuda:N",
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

    /// <summary>The backend for a --device value; says on stderr when "auto" fell back to the CPU.</summary>
    public static IBackend Open(string device)
    {
        var backend = BackendFactory.Create(device, out string? reason);
        NoteFallback(reason);
        return backend;
    }

    /// <summary>Says on stderr that "auto" fell back to the CPU, with the first line of why (`coar info` has the rest).</summary>
    public static void NoteFallback(string? reason)
    {
        if (reason is null) return;
        string first = reason.Split('\n')[0];
        int trace = first.IndexOf("; tried", StringComparison.Ordinal);
        if (trace > 0) first = first[..trace];
        Console.Error.WriteLine($"note: running on the CPU backend ({first}; `coar info` says more)");
    }
}
