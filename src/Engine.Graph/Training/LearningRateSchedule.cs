namespace CoAR.Engine.Graph.Training;

/// <summary>The learning rate after the warmup.</summary>
public enum LearningRateSchedule
{
    /// <summary>The peak rate to the end (Lumina-mGPT's 7B script: min_lr = lr).</summary>
    Constant,

    /// <summary>Half a cosine from the peak rate down to the minimum at the last step (Lumina's schedule with min_lr below lr).</summary>
    Cosine,
}
