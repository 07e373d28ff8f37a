namespace CoAR.Engine.Graph.Training;

/// <summary>What a training run learns.</summary>
public enum TrainingMethod
{
    /// <summary>CoAR: per-layer context tokens through the frozen backbone.</summary>
    Coar,

    /// <summary>LoRA adapters on chosen projections of every layer (the backbone's weights stay as they are).</summary>
    Lora,
}
