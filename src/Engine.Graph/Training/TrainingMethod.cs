namespace CoAR.Engine.Graph.Training;

/// <summary>What a training run learns (all on the same training path: the frozen model's forward and backward).</summary>
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

    /// <summary>
    /// PersonalAR's stage 2: the stage-1 [V] embedding trained on together with the backbone's q/k/v weights (full
    /// fine-tuning, <see cref="WeightTraining.Full"/>) or LoRA adapters on them (<see cref="WeightTraining.Lora"/>).
    /// A whole PersonalAR run is <see cref="PersonalArJob"/>: stage 1, then this.
    /// </summary>
    PersonalAr,
}

/// <summary>What a run trains in the backbone's projections, besides (or instead of) context tokens.</summary>
public enum WeightTraining
{
    /// <summary>Nothing: the backbone stays frozen (CoAR, textual inversion).</summary>
    None,

    /// <summary>LoRA adapters (A, B) on the projections, in HF PEFT's layout.</summary>
    Lora,

    /// <summary>
    /// The projections' weights themselves (full fine-tuning): trained as an F32 change dW on top of the loaded weight,
    /// written as the fine-tuned weights W + dW under the checkpoint's tensor names.
    /// </summary>
    Full,
}
