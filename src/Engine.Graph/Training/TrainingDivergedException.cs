namespace CoAR.Engine.Graph.Training;

/// <summary>
/// The loss or its gradient stopped being a finite number (a learning rate too high for the model, usually): training
/// stops there, as Lumina-mGPT's solver does, rather than write tokens that are NaN.
/// </summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
