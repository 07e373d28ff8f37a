namespace CoAR.Engine.Graph.Text;

/// <summary>
/// A placeholder string in a caption (e.g. "[V]") bound to a concept: the tokenizer never sees it; the prompt gets
/// <paramref name="SlotCount"/> slot positions where it stood (kT in CoAR, 1 in the paper).
/// </summary>
public sealed record PromptPlaceholder(string Text, int SlotCount = 1);
