namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>
/// What `coar bench` measures: a prefill of <see cref="PromptTokens"/> per image, then <see cref="DecodeSteps"/>
/// lock-step decode steps of every row (cond + uncond with guidance) with <see cref="Context"/> tokens already cached,
/// each step with the sampling ops of a real image step. Images/s is extrapolated to a whole image of the given size.
/// </summary>
public sealed record ThroughputSettings(int Images = 1, int PromptTokens = 64, int Context = 1200, int DecodeSteps = 32,
    bool Guided = true, int Warmup = 2, int Width = 768, int Height = 768, bool FullImage = false);
