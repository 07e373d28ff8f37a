using CoAR.Engine.Graph.Model;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// The fixed shape of a <see cref="GenerationScheduler"/>'s batch, planned from the memory estimate: how many guided
/// images run at once (<see cref="Images"/>; unguided ones take one row, so up to twice as many of those), the KV
/// cache's rows and positions per row (the longest prompt accepted plus the largest image), and the most tokens one
/// forward runs. A request beyond these limits is refused; one within them waits for room.
/// </summary>
public sealed record SchedulerPlan(int Images, int Rows, int Positions, int StepTokens, int MaxWidth, int MaxHeight, int MaxPromptTokens, MemoryEstimate Memory)
{
    /// <summary>The plan for <paramref name="images"/> guided images of at most the given size and prompt length.</summary>
    public static SchedulerPlan For(MemoryEstimate memory, int images, int maxWidth, int maxHeight, int maxPromptTokens) =>
        new(images, memory.Rows, memory.TokensPerRow, memory.StepTokens, maxWidth, maxHeight, maxPromptTokens, memory);

    public override string ToString() =>
        $"{Images} guided images at once ({Rows} KV rows x {Positions} positions, {Memory.KvCacheBytes / (1 << 20)} MiB), "
        + $"up to {MaxWidth}x{MaxHeight} with prompts up to {MaxPromptTokens} tokens, at most {StepTokens} tokens per forward";
}
