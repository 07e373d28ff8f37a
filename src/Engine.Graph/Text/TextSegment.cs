namespace CoAR.Engine.Graph.Text;

/// <summary>A [Start, End) range of text: an added token's match when <paramref name="Token"/> is set, plain text otherwise.</summary>
internal readonly record struct TextSegment(int Start, int End, AddedToken? Token);
