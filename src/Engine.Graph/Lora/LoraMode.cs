namespace CoAR.Engine.Graph.Lora;

/// <summary>How an engine's generations use LoRA adapters.</summary>
public enum LoraMode
{
    None,

    /// <summary>Each adapted projection adds the adapters' low-rank terms at run time; the loaded weights are untouched.</summary>
    Unmerged,

    /// <summary>The adapters were folded into the loaded weights (W += scale B A).</summary>
    Merged,
}
