namespace CoAR.Engine.Managed.Torch;

/// <summary>A checkpoint entry that is not a tensor in a dict (an epoch number, optimizer state, a version string).</summary>
public sealed record SkippedEntry(string Name, string Description);
