namespace CoAR.Engine.Graph.Generation;

/// <summary>Where one submitted image is: waiting for room, drawing its tokens, or being decoded to pixels.</summary>
public enum ImageStage
{
    Queued,
    Running,
    Decoding,
}

/// <summary>
/// Progress of one image of a <see cref="GenerationScheduler.Submit"/> call: its index in that call, its stage, and
/// its body tokens drawn so far.
/// </summary>
public readonly record struct ImageProgress(int Index, ImageStage Stage, int TokensDone, int TokensTotal);
