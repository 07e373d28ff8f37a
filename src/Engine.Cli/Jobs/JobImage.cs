using CoAR.Engine.Graph.Generation;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>One image of a job: where it comes from (line, copy), where it goes, and what to generate.</summary>
public sealed record JobImage(int Line, int Copy, string Stem, ImagePrompt Prompt)
{
    public string PngName => Stem + ".png";
    public string SidecarName => Stem + ".json";

    /// <summary>Line and copy numbers, the same whatever the job's split into shards.</summary>
    public static string StemFor(int line, int copy) => $"{line:D5}-{copy:D3}";
}
