namespace CoAR.Engine.Graph.Text;

/// <summary>The token ids of a prompt (BOS first) and the slot positions of each placeholder, in the order they were given.</summary>
public sealed record PromptTokens(int[] Ids, IReadOnlyList<TextSlot> TextSlots);
