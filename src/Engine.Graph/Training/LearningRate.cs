namespace CoAR.Engine.Graph.Training;

/// <summary>
/// The learning rate of each update: a linear warmup, lr * (s + 1) / (W + 1) for updates s &lt; W, then the schedule
/// (Lumina-mGPT's lr_sched: warmup, then half-cycle cosine to min_lr; constant when min_lr = lr). Lumina's warmup
/// starts at exactly 0, which wastes the first update; starting at lr / (W + 1) does not.
/// </summary>
public static class LearningRate
{
    /// <param name="update">Updates done before this one (0 for the first).</param>
    public static float At(TrainingSettings s, int update)
    {
        if (update < s.WarmupSteps)
            return s.LearningRate * (update + 1) / (s.WarmupSteps + 1);
        if (s.Schedule == LearningRateSchedule.Constant)
            return s.LearningRate;
        int span = Math.Max(1, s.Steps - 1 - s.WarmupSteps);
        double progress = Math.Clamp((double)(update - s.WarmupSteps) / span, 0, 1);
        return (float)(s.MinLearningRate + (s.LearningRate - s.MinLearningRate) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
