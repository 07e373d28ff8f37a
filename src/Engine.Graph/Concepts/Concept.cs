namespace CoAR.Engine.Graph.Concepts;

/// <summary>
/// A learned concept: per-layer context tokens for the first <see cref="Depth"/> layers, <see cref="TextSlots"/>
/// vectors that replace the placeholder's positions in the prompt and <see cref="ImageSlots"/> vectors placed right
/// before the image start token, each of the model's hidden size. Stored fp32, laid out [layer, slot, hidden].
/// Optionally a token-index embedding (TokenAR's): one vector added at the input of layer 0 to every token of the
/// concept's source (its slots and the word after its placeholder; see <see cref="ConceptSequence"/>).
/// </summary>
public sealed class Concept
{
    /// <param name="index">The token-index embedding [hidden], or null for none.</param>
    public Concept(ConceptKind kind, string placeholder, string classNoun, int depth, int textSlots, int imageSlots, int hidden,
        float[]? text = null, float[]? image = null, float[]? index = null)
    {
        if (depth <= 0) throw new ArgumentOutOfRangeException(nameof(depth), depth, "a concept needs at least one layer");
        if (textSlots < 0 || imageSlots < 0 || textSlots + imageSlots == 0)
            throw new ArgumentException($"a concept needs text or image slots (got {textSlots} text, {imageSlots} image)");
        if (string.IsNullOrWhiteSpace(placeholder)) throw new ArgumentException("the placeholder must not be empty");
        Kind = kind;
        Placeholder = placeholder;
        ClassNoun = classNoun;
        Depth = depth;
        TextSlots = textSlots;
        ImageSlots = imageSlots;
        Hidden = hidden;
        Text = Check(text, depth * textSlots * hidden, "text");
        Image = Check(image, depth * imageSlots * hidden, "image");
        Index = index is null ? null : Check(index, hidden, "index");
    }

    public ConceptKind Kind { get; }
    public string Placeholder { get; }
    public string ClassNoun { get; }
    public int Depth { get; }
    public int TextSlots { get; }
    public int ImageSlots { get; }
    public int Hidden { get; }

    /// <summary>[Depth, TextSlots, Hidden].</summary>
    public float[] Text { get; }

    /// <summary>[Depth, ImageSlots, Hidden].</summary>
    public float[] Image { get; }

    /// <summary>The token-index embedding [Hidden], added to every token of the concept's source; null: none.</summary>
    public float[]? Index { get; }

    /// <summary>Trainable values, laid out [text..., image..., index...] (see <see cref="ReadParameters"/>).</summary>
    public int Parameters => Text.Length + Image.Length + (Index?.Length ?? 0);

    /// <summary>Rows in a context table: the text block, then the image block, then the index vector (if any).</summary>
    public int TableRows => Depth * (TextSlots + ImageSlots) + (Index is null ? 0 : 1);

    /// <summary>Copies the parameters into <paramref name="destination"/> as [text..., image..., index...].</summary>
    public void ReadParameters(Span<float> destination)
    {
        Text.CopyTo(destination);
        Image.CopyTo(destination[Text.Length..]);
        Index?.CopyTo(destination[(Text.Length + Image.Length)..]);
    }

    /// <summary>Sets the parameters from <paramref name="source"/> laid out as <see cref="ReadParameters"/> writes them.</summary>
    public void WriteParameters(ReadOnlySpan<float> source)
    {
        source[..Text.Length].CopyTo(Text);
        source.Slice(Text.Length, Image.Length).CopyTo(Image);
        if (Index is not null) source.Slice(Text.Length + Image.Length, Index.Length).CopyTo(Index);
    }

    public Span<float> TextVector(int layer, int slot) => Text.AsSpan((layer * TextSlots + slot) * Hidden, Hidden);
    public Span<float> ImageVector(int layer, int slot) => Image.AsSpan((layer * ImageSlots + slot) * Hidden, Hidden);

    private static float[] Check(float[]? values, int length, string name)
    {
        if (values is null) return new float[length];
        if (values.Length != length)
            throw new ArgumentException($"concept {name} tokens have {values.Length} values, expected {length}");
        return values;
    }

    /// <summary>The same tokens bound to another placeholder (two concepts trained with the same one can then be combined).</summary>
    public Concept WithPlaceholder(string placeholder) =>
        new(Kind, placeholder, ClassNoun, Depth, TextSlots, ImageSlots, Hidden, Text, Image, Index);

    public Concept Clone() => new(Kind, Placeholder, ClassNoun, Depth, TextSlots, ImageSlots, Hidden, (float[])Text.Clone(), (float[])Image.Clone(),
        (float[]?)Index?.Clone());
}
