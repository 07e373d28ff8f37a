namespace CoAR.Engine.Graph.Text;

/// <summary>The token ids of a prompt (BOS first) and the slot positions of each placeholder, in the order they were given.</summary>
public sealed record PromptTokens(int[] Ids, IReadOnlyList<TextSlot> TextSlots)
{
    /// <summary>Where each reference image's tokens are in <see cref="Ids"/>, in the order the images were given.</summary>
    public IReadOnlyList<ImageSpan> Images { get; init; } = [];
}

/// <summary>A reference image's tokens in a prompt: <paramref name="Length"/> ids from <paramref name="Start"/>, image start to image end.</summary>
public readonly record struct ImageSpan(int Start, int Length);
