namespace CoAR.Engine.Cli.Jobs;

/// <summary>The command's settings that every image of a job uses unless its line overrides them.</summary>
/// <param name="Lora">The LoRA adapters as given and how they are applied ("" when none): a different set is a different job.</param>
public sealed record JobSettings(int Width, int Height, float Cfg, int TopK, float Temperature, int Count, string Concepts = "", bool IdentityMask = true,
    string Lora = "");
