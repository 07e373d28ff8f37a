using System.CommandLine;
using System.Text.Json;
using CoAR.Engine.Cli.Jobs;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>`coar job status DIR...`: the progress of batch jobs and all their shards; missing and corrupt images.</summary>
public static class JobCommand
{
    public static Command Create()
    {
        var cmd = new Command("job", "Batch jobs of `coar generate --prompts`: progress over all shards.");
        cmd.Subcommands.Add(CreateStatus());
        return cmd;
    }

    private static Command CreateStatus()
    {
        var dirs = new Argument<string[]>("DIR") { Description = "Output directories of `coar generate --out` (a job's shards share one, or each has its own)", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print the status as JSON (every missing and corrupt image listed)" };
        var deleteCorrupt = new Option<bool>("--delete-corrupt") { Description = "Delete corrupt images (PNG and sidecar) so that rerunning their shard makes them again" };
        var cmd = new Command("status", "How far jobs have come: images done, missing and corrupt (PNG structure and CRCs checked), and each shard's last report.");
        cmd.Arguments.Add(dirs);
        cmd.Options.Add(json);
        cmd.Options.Add(deleteCorrupt);
        cmd.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var statuses = parse.GetValue(dirs)!.Select(JobStatus.Scan).ToList();
            if (parse.GetValue(deleteCorrupt))
                foreach (var s in statuses)
                    foreach (var c in s.Corrupt)
                    {
                        File.Delete(Path.Combine(s.OutputDir, c.Name + ".png"));
                        File.Delete(Path.Combine(s.OutputDir, c.Name + ".json"));
                    }
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new JobStatusReport(statuses.Sum(s => s.Images), statuses.Sum(s => s.Done),
                    statuses.All(s => s.Complete), statuses), CliJson.Options));
            else
                Print(statuses, parse.GetValue(deleteCorrupt));
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static void Print(List<JobStatus> statuses, bool deleted)
    {
        var console = AnsiConsole.Console;
        const int listed = 10;
        foreach (var s in statuses)
        {
            string corrupt = s.Corrupt.Count > 0 ? $", {s.Corrupt.Count} corrupt{(deleted ? " (deleted)" : "")}" : "";
            console.MarkupLine($"[bold]{Markup.Escape(s.OutputDir)}[/]: {s.Done}/{s.Images} images done, {s.Missing.Count} missing{corrupt}");
            if (s.Missing.Count > 0)
                console.WriteLine($"  missing: {string.Join(", ", s.Missing.Take(listed))}{(s.Missing.Count > listed ? $", ... ({s.Missing.Count - listed} more; --json lists all)" : "")}");
            foreach (var c in s.Corrupt.Take(listed))
                console.WriteLine($"  corrupt: {c.Name}: {c.Problem}");
            if (s.Corrupt.Count > listed) console.WriteLine($"  ... {s.Corrupt.Count - listed} more corrupt (--json lists all)");
            if (s.Shards.Count == 0) continue;
            var table = new Table().AddColumn("shard").AddColumn("state").AddColumn("done").AddColumn("written").AddColumn("host").AddColumn("updated");
            foreach (var sh in s.Shards)
                table.AddRow(sh.Shard, Markup.Escape(sh.Error is null ? sh.State : $"{sh.State}: {sh.Error}"), $"{sh.Done}/{sh.Images}",
                    sh.Written.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape($"{sh.Host} pid {sh.Pid}"),
                    sh.Updated?.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) ?? "");
            console.Write(table);
        }
        if (statuses.Count > 1)
            console.MarkupLine($"all: {statuses.Sum(s => s.Done)}/{statuses.Sum(s => s.Images)} images done");
    }
}

/// <summary>`coar job status --json`.</summary>
public sealed record JobStatusReport(int Images, int Done, bool Complete, IReadOnlyList<JobStatus> Jobs);
