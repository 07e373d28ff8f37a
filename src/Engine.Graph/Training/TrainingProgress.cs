namespace CoAR.Engine.Graph.Training;

/// <summary>The losses of one optimizer step (means over its passes) and how long it took.</summary>
public readonly record struct StepLosses(double Ntp, double Dpp, double DppNtp, double DppKl, double Casr, double Total);

/// <summary>Where a training run stands after a step.</summary>
public readonly record struct TrainingProgress(int Step, int Steps, StepLosses Losses, float LearningRate, TimeSpan StepTime, string? Note);
