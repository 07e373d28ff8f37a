namespace CoAR.Engine.Graph.Text;

/// <summary>
/// Where a placeholder's slots are in the prompt ids: SlotCount positions per occurrence, ascending. The ids at
/// these positions hold a filler id; the model overwrites their hidden states with the concept's context tokens.
/// </summary>
public sealed record TextSlot(string Placeholder, IReadOnlyList<int> Positions)
{
    /// <summary>The tokens of the word right after each occurrence ("dog" in "[V] dog"), ascending: part of the concept's source for index embeddings.</summary>
    public IReadOnlyList<int> WordPositions { get; init; } = [];
}
