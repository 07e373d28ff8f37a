namespace CoAR.Engine.Graph.Model;

/// <summary>
/// A context-token slot: at the input of every layer l &lt; <see cref="Depth"/>, the hidden state of packed token
/// <see cref="Token"/> is REPLACED by row <c>BaseRow + l * Stride</c> of the forward's context table (a concept's
/// vectors laid out [layer, slot, D]). From layer Depth on the position carries what the layer below produced.
/// </summary>
public sealed record ContextInjection(int Token, int BaseRow, int Stride, int Depth)
{
    public int TableRow(int layer) => BaseRow + layer * Stride;
}
