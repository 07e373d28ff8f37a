namespace CoAR.Engine.Graph.Training;

/// <summary>
/// The losses of one optimizer step, each the mean over its passes: subject cross-entropy and z-loss, the DPP term
/// (lambda1 (class NTP + z-loss weight x class z-loss) + lambda2 KL) and its parts, CASR, and the total whose exact
/// gradient the update applied.
/// </summary>
public readonly record struct StepLosses(double Ntp, double ZLoss, double Dpp, double DppNtp, double DppZLoss, double DppKl, double Casr, double Total);

/// <summary>Where a training run stands after a step: the learning rate it used and its gradient's norm before clipping.</summary>
public readonly record struct TrainingProgress(int Step, int Steps, StepLosses Losses, float LearningRate, double GradientNorm, TimeSpan StepTime);
