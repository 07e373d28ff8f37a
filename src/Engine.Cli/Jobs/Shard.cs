using System.Globalization;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>
/// One of <see cref="Count"/> workers of a job: it owns images <see cref="Index"/>, Index + Count, Index + 2 Count, ...
/// in job order (line by line, copy by copy), so shards differ by at most one image and every image's name and seed
/// are those of the unsharded job whatever the split.
/// </summary>
public sealed record Shard(int Index, int Count)
{
    public const int MaxCount = 100_000;

    public static Shard Whole { get; } = new(0, 1);

    public bool IsWhole => Count == 1;

    public bool Owns(int imageIndex) => imageIndex % Count == Index;

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>
    /// The shard this process runs: <paramref name="option"/> ("I/N") when given; else a Slurm array task's
    /// (SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN, over SLURM_ARRAY_TASK_STEP, of SLURM_ARRAY_TASK_COUNT); else a
    /// Kubernetes Indexed Job's (JOB_COMPLETION_INDEX of <paramref name="count"/> or COAR_SHARD_COUNT); else null (the
    /// whole job, unsharded). <paramref name="source"/> says where it came from when the environment set it.
    /// </summary>
    public static Shard? Resolve(string? option, int? count, Func<string, string?> environment, out string? source)
    {
        source = null;
        if (option is not null)
        {
            if (count is not null) throw new UsageException("give either --shard I/N or --shard-count N, not both");
            return Parse(option, "--shard");
        }
        if (environment("SLURM_ARRAY_TASK_ID") is { Length: > 0 } task)
        {
            int id = EnvironmentNumber(environment, "SLURM_ARRAY_TASK_ID", task);
            int min = environment("SLURM_ARRAY_TASK_MIN") is { Length: > 0 } m ? EnvironmentNumber(environment, "SLURM_ARRAY_TASK_MIN", m) : 0;
            int step = environment("SLURM_ARRAY_TASK_STEP") is { Length: > 0 } s ? EnvironmentNumber(environment, "SLURM_ARRAY_TASK_STEP", s) : 1;
            int total = count ?? (environment("SLURM_ARRAY_TASK_COUNT") is { Length: > 0 } c
                ? EnvironmentNumber(environment, "SLURM_ARRAY_TASK_COUNT", c)
                : throw new UsageException("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard I/N"));
            if (step < 1 || (id - min) % step != 0)
                throw new UsageException($"Slurm array task {id} (min {min}, step {step}) is not on the array's grid; pass --shard I/N");
            source = $"Slurm array task {id} of {total} (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN)";
            return Checked((id - min) / step, total, $"the Slurm array task {id} (min {min}, step {step}, count {total})");
        }
        if (environment("JOB_COMPLETION_INDEX") is { Length: > 0 } index)
        {
            int i = EnvironmentNumber(environment, "JOB_COMPLETION_INDEX", index);
            int total = count ?? (environment("COAR_SHARD_COUNT") is { Length: > 0 } c
                ? EnvironmentNumber(environment, "COAR_SHARD_COUNT", c)
                : throw new UsageException("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but not how many shards there are: "
                                           + "pass --shard-count N (the Job's completions) or set COAR_SHARD_COUNT"));
            source = $"Kubernetes Indexed Job completion {i} of {total} (JOB_COMPLETION_INDEX)";
            return Checked(i, total, $"JOB_COMPLETION_INDEX {i} of {total}");
        }
        if (count is not null)
            throw new UsageException("--shard-count needs the shard's index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job); elsewhere give --shard I/N");
        return null;
    }

    /// <summary>"I/N" with 0 &lt;= I &lt; N.</summary>
    public static Shard Parse(string text, string what)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            return Checked(i, n, $"{what} {text}");
        throw new UsageException($"{what} '{text}': expected I/N, the shard's index (from 0) and the number of shards, like 2/8");
    }

    private static Shard Checked(int index, int count, string what)
    {
        if (count is < 1 or > MaxCount) throw new UsageException($"{what}: the number of shards must be 1 to {MaxCount}");
        if (index < 0 || index >= count) throw new UsageException($"{what}: the shard index must be 0 to {count - 1}");
        return new Shard(index, count);
    }

    private static int EnvironmentNumber(Func<string, string?> environment, string name, string value) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n)
            ? n
            : throw new UsageException($"environment variable {name}='{environment(name)}' is not a whole number");
}
