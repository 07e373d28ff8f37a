namespace CoAR.Engine.Graph.Training;

/// <summary>What a training forward keeps for the backward pass.</summary>
public enum ActivationMode
{
    /// <summary>Every layer's intermediates: fastest, most memory.</summary>
    Keep,

    /// <summary>Only each layer's input; the backward re-runs one layer at a time (about one extra forward of compute).</summary>
    Recompute,
}
