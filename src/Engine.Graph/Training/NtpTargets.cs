namespace CoAR.Engine.Graph.Training;

/// <summary>What the next-token losses (NTP, and DPP's NTP and KL) range over.</summary>
public enum NtpTargets
{
    /// <summary>Every image-phase token (header, codes, new lines, end of image and of turn) over the whole vocabulary: as the backbone was trained.</summary>
    ImagePhase,

    /// <summary>
    /// Only the positions whose next token is an image code, over the 8192 codes: the distribution the sampler draws
    /// from (it forces the rest). A model that has not learned the image grammar (a random one) otherwise spends the
    /// gradient on it.
    /// </summary>
    Codes,
}
