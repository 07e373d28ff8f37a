using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// A finished image: the RGB pixels, the image-phase tokens the model produced (header, rows with new lines, end of
/// image, end of turn), the seed that reproduces it, and the timings of the batch it ran in.
/// </summary>
public sealed record GeneratedImage(ImagePrompt Prompt, RgbImage Image, int[] Tokens, int[] PromptTokens, GenerationTimings Timings, TimeSpan DecodeTime);
