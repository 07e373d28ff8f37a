namespace CoAR.Engine.Graph.Model;

/// <summary>
/// A context-token slot: at the input of every layer l &lt; <see cref="Depth"/>, the hidden state of packed token
/// <see cref="Token"/> is REPLACED by row <c>BaseRow + l * Stride</c> of the forward's context table (a concept's
/// vectors laid out [layer, slot, D]). From layer Depth on the position carries what the layer below produced.
/// With <see cref="Add"/>, the row is ADDED to the state instead (a token-index embedding: a learned vector on every
/// token of a source), after the replacements of that layer, and the gradient flows on through the position.
/// </summary>
public sealed record ContextInjection(int Token, int BaseRow, int Stride, int Depth)
{
    public bool Add { get; init; }

    public int TableRow(int layer) => BaseRow + layer * Stride;
}
