namespace CoAR.Engine.Graph.Training;

/// <summary>What a training run learns (on the same training path: context tokens through the frozen model, or LoRA adapters).</summary>
public enum TrainingMethod
{
    /// <summary>CoAR: per-layer text and image context tokens with DPP and CASR (the default).</summary>
    Coar,

    /// <summary>
    /// PersonalAR's stage 1: one [V] input embedding (a text slot replaced at the input of layer 0), random
    /// initialization, the prompt drawn from a list of templates, no prior preservation (see the README's method notes).
    /// </summary>
    TextualInversion,

    /// <summary>LoRA adapters on chosen projections of every layer (the backbone's weights stay as they are).</summary>
    Lora,
}
