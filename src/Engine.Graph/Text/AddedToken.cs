namespace CoAR.Engine.Graph.Text;

/// <summary>
/// An entry of tokenizer.json's "added_tokens": matched as a whole in the text before the model sees it.
/// <paramref name="Normalized"/> false: matched in the raw text; true: matched in the normalized text.
/// <paramref name="LStrip"/>/<paramref name="RStrip"/>: the match also swallows white space on that side.
/// <paramref name="SingleWord"/>: only matches when not touching word characters. <paramref name="Special"/>: can be
/// skipped when decoding.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool SingleWord, bool LStrip, bool RStrip, bool Normalized, bool Special);
