using System.Globalization;
using CoAR.Engine.Managed.Backends.Cpu;
using Spectre.Console;

namespace CoAR.Engine.Cli;

/// <summary>Prints the CPU backend's per-op profile (COAR_PROFILE=1 or `coar bench --profile`) to stderr, so --json output stays clean.</summary>
public static class OpProfileReport
{
    public static void PrintIfCollected()
    {
        if (!CpuOpProfile.Enabled) return;
        var ops = CpuOpProfile.Snapshot();
        if (ops.Count == 0) return;
        double total = ops.Sum(o => o.Seconds);
        var table = new Table().Title($"CPU backend time by op ({total.ToString("F2", CultureInfo.InvariantCulture)} s in ops)")
            .AddColumn("op").AddColumn(new TableColumn("calls").RightAligned()).AddColumn(new TableColumn("seconds").RightAligned())
            .AddColumn(new TableColumn("share").RightAligned());
        foreach (var o in ops)
            table.AddRow(o.Op, o.Calls.ToString("N0", CultureInfo.InvariantCulture), o.Seconds.ToString("F3", CultureInfo.InvariantCulture),
                (o.Seconds / total).ToString("P1", CultureInfo.InvariantCulture));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Write(table);
    }
}
