namespace CoAR.Engine.Cli.Jobs;

/// <summary>The command's settings that every image of a job uses unless its line overrides them.</summary>
public sealed record JobSettings(int Width, int Height, float Cfg, int TopK, float Temperature, int Count, string Concepts = "", bool IdentityMask = true)
{
    /// <summary>What identifies the command's --image files (names and contents), for the job's manifest; empty: none.</summary>
    public string References { get; init; } = "";

    /// <summary>Whether the concepts' index embeddings are added (the default).</summary>
    public bool IndexEmbeddings { get; init; } = true;

    /// <summary>Whether the prompts are wrapped in the text-to-image instruction (the default).</summary>
    public bool Instruction { get; init; } = true;

    /// <summary>The LoRA adapters as given and how they are applied ("" when none): a different set is a different job.</summary>
    public string Lora { get; init; } = "";

    /// <summary>The fine-tuned projection weights file as given ("" when none): other weights are another job.</summary>
    public string Projections { get; init; } = "";
}
