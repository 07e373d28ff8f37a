namespace CoAR.Engine.Graph.Concepts;

/// <summary>
/// A learned concept: per-layer context tokens for the first <see cref="Depth"/> layers, <see cref="TextSlots"/>
/// vectors that replace the placeholder's positions in the prompt and <see cref="ImageSlots"/> vectors placed right
/// before the image start token, each of the model's hidden size. Stored fp32, laid out [layer, slot, hidden].
/// </summary>
public sealed class Concept
{
    public Concept(ConceptKind kind, string placeholder, string classNoun, int depth, int textSlots, int imageSlots, int hidden,
        float[]? text = null, float[]? image = null)
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

    public int Parameters => Text.Length + Image.Length;

    /// <summary>Rows in a context table: the text block, then the image block.</summary>
    public int TableRows => Depth * (TextSlots + ImageSlots);

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
        new(Kind, placeholder, ClassNoun, Depth, TextSlots, ImageSlots, Hidden, Text, Image);

    public Concept Clone() => new(Kind, Placeholder, ClassNoun, Depth, TextSlots, ImageSlots, Hidden, (float[])Text.Clone(), (float[])Image.Clone());
}
