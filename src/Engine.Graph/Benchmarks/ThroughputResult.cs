namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>The numbers of one throughput run (times are wall clock after warm-up; bandwidth = bytes the step must read / time).</summary>
public sealed record ThroughputResult(
    string Device,
    long Parameters,
    long WeightBytes,
    int Images,
    int Rows,
    int PromptTokens,
    int Context,
    double PrefillSeconds,
    double PrefillTokensPerSecond,
    double DecodeStepMilliseconds,
    double ImageTokensPerSecond,
    double ImagesPerSecond,
    double StepReadGigabytes,
    double AchievedGigabytesPerSecond,
    double? DeviceGigabytesPerSecond,
    double? BandwidthFraction,
    long PeakMemoryBytes,
    double? FullImageSeconds);
