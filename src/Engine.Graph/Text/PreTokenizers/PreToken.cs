namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>
/// A piece of text on its way to the model. <paramref name="AtTextStart"/> is true only for a piece that begins
/// where the encoded text begins (Metaspace's prepend_scheme "first" looks at it).
/// </summary>
internal readonly record struct PreToken(string Text, bool AtTextStart);
