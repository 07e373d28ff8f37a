namespace CoAR.Engine.Graph.Generation;

/// <summary>One image to make: its caption, size in pixels, the seed that reproduces it, and how to sample.</summary>
public sealed record ImagePrompt(string Caption, int Width, int Height, ulong Seed, SamplingSettings Sampling);
