namespace CoAR.Engine.Graph.Text;

/// <summary>
/// Builds Lumina-mGPT's text-to-image prompt: BOS, then the tokens of
/// <c>Generate an image of {W}x{H} according to the following prompt:\n{caption}&lt;reserved08706&gt;</c> (width
/// first), no EOS; and the image-phase header <c>[8197, 8804 + H/32, 8804 + W/32]</c> (height first).
/// <para>
/// End of turn: when the tokenizer has &lt;reserved08706&gt; as an added token it is written into the text and
/// matched there, exactly as the reference tokenizes the whole string (an lstrip flag on it then behaves as in the
/// reference); otherwise its id is appended after the text's tokens.
/// </para>
/// <para>
/// Placeholders: the caption is tokenized in pieces around them, each later piece as the continuation of the text
/// (as if the placeholder were an added token: Metaspace "first" adds no prefix to it, ByteLevel add_prefix_space
/// and a Prepend normalizer do, like the reference after an added token). By default the spaces just before a
/// placeholder are dropped (<see cref="AbsorbSpaceBeforePlaceholder"/>): in "a photo of [V] dog" the slot stands for
/// a word with its leading space, like "Ġsks", instead of leaving a lone space token before it; the space after it
/// stays with the next word ("Ġdog").
/// </para>
/// <para>
/// Reference images: each <c>&lt;|image|&gt;</c> in the text is replaced by the next image's tokens
/// (<c>8197, h, w, rows..., 8196</c>, see <see cref="ImagePlaceholder"/>), the text around it tokenized as around an
/// added token, spaces kept: Lumina-mGPT's item processor adds the symbol to its tokenizer and splices each image's
/// tokens in where the symbol's token stood. Images given for a text without the symbol go first, as the reference does
/// (<c>"&lt;|image|&gt; " * n</c> prefixed to the first human turn, the instruction included).
/// </para>
/// </summary>
public sealed class LuminaPrompt
{
    public const int DefaultTargetSize = 768;

    private readonly BpeTokenizer _tokenizer;
    private readonly ChameleonVocabulary _vocabulary;

    public LuminaPrompt(BpeTokenizer tokenizer, ChameleonVocabulary vocabulary, int targetSize = DefaultTargetSize)
    {
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _vocabulary = vocabulary ?? throw new ArgumentNullException(nameof(vocabulary));
        LuminaImageSizes.Allowed(targetSize); // validates the target
        TargetSize = targetSize;
        SlotFillerId = vocabulary.Pad;
    }

    /// <summary>The checkpoint's target size (512, 768 or 1024): bounds the image area.</summary>
    public int TargetSize { get; }

    public ChameleonVocabulary Vocabulary => _vocabulary;

    /// <summary>Placeholder strings that must be bound to a concept whenever a caption contains them.</summary>
    public IReadOnlyList<string> ReservedPlaceholders { get; init; } = ["[V]", "[S]"];

    /// <summary>Drop the spaces (U+0020) right before a placeholder (see the class remarks). Default true.</summary>
    public bool AbsorbSpaceBeforePlaceholder { get; init; } = true;

    /// <summary>The id written at slot positions (the model overwrites their hidden states). Default &lt;pad&gt;.</summary>
    public int SlotFillerId { get; init; }

    /// <summary>The prompt text before tokenization, for logs.</summary>
    public static string Text(string caption, int widthPx, int heightPx) =>
        Instruction(widthPx, heightPx) + caption + ChameleonVocabulary.EndOfTurnName;

    /// <summary>
    /// The longest caption accepted, in UTF-16 characters: about 2000 tokens, far beyond what the model was trained on
    /// (Lumina's captions are a few hundred tokens), and a bound on the tokenizer's work for one prompt.
    /// </summary>
    public const int MaxCaptionCharacters = 8192;

    private static int? LoneSurrogate(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(text[i]))
                return i;
        }
        return null;
    }

    /// <summary>Where a reference image goes in a prompt: Lumina-mGPT's media symbol.</summary>
    public const string ImagePlaceholder = "<|image|>";

    /// <summary>How many <see cref="ImagePlaceholder"/> symbols a caption holds.</summary>
    public static int ImagePlaceholderCount(string caption)
    {
        int count = 0;
        for (int at = caption.IndexOf(ImagePlaceholder, StringComparison.Ordinal); at >= 0;
             at = caption.IndexOf(ImagePlaceholder, at + ImagePlaceholder.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    /// <param name="images">
    /// Reference images' tokens (<see cref="Generation.ReferenceImage.Tokens"/>), one per <see cref="ImagePlaceholder"/> in
    /// the caption in order, or placed first when the caption has none; a different count is an ArgumentException.
    /// </param>
    /// <param name="instruction">
    /// Wrap the caption in the text-to-image instruction (default); false: the caption is the whole human turn, as
    /// Lumina-mGPT's image-conditioned tasks write it ("Generate an image according to the provided image, ...").
    /// </param>
    public PromptTokens Build(string caption, int widthPx, int heightPx, IReadOnlyList<PromptPlaceholder>? placeholders = null,
        IReadOnlyList<int[]>? images = null, bool instruction = true)
    {
        ArgumentNullException.ThrowIfNull(caption);
        if (caption.Length > MaxCaptionCharacters)
            throw new ArgumentException($"the prompt is {caption.Length} characters long, more than the {MaxCaptionCharacters} accepted");
        if (LoneSurrogate(caption) is { } bad)
            throw new ArgumentException($"the prompt holds a lone UTF-16 surrogate at character {bad} (U+{(int)caption[bad]:X4}), which is not text");
        LuminaImageSizes.Validate(widthPx, heightPx, TargetSize);
        placeholders ??= [];
        images ??= [];
        ValidatePlaceholders(placeholders);
        int symbols = ImagePlaceholderCount(caption);
        if (symbols > 0 && symbols != images.Count)
            throw new ArgumentException($"the prompt holds {symbols} {ImagePlaceholder} placeholder(s) but {images.Count} image(s) are given; give one image per {ImagePlaceholder}");
        // The whole first turn, as the reference lays it out: implicit image symbols, the instruction, the caption.
        string implicitImages = symbols == 0 ? string.Concat(Enumerable.Repeat(ImagePlaceholder + " ", images.Count)) : "";
        string text = implicitImages + (instruction ? Instruction(widthPx, heightPx) : "") + caption;
        var occurrences = FindOccurrences(text, placeholders);
        var pieces = new List<string>(occurrences.Count + 1);
        int from = 0;
        foreach (var (start, end, placeholder) in occurrences)
        {
            string piece = text[from..start];
            pieces.Add(AbsorbSpaceBeforePlaceholder && placeholder is not null ? piece.TrimEnd(' ') : piece);
            from = end;
        }
        pieces.Add(text[from..]);
        CheckBindings(caption, placeholders, occurrences, pieces);
        bool endOfTurnIsAddedToken = _tokenizer.TryGetAddedToken(ChameleonVocabulary.EndOfTurnName, out var added)
            && added.Id == _vocabulary.EndOfTurn;
        // The word right after each placeholder (its class noun, "dog" in "[V] dog"), before the end of turn joins the text.
        var words = pieces.Select((piece, i) => i > 0 && occurrences[i - 1].Placeholder is not null ? FirstWord(piece) : "").ToArray();
        if (endOfTurnIsAddedToken)
            pieces[^1] += ChameleonVocabulary.EndOfTurnName;

        var ids = new List<int> { _vocabulary.Bos };
        var wordPositions = placeholders.ToDictionary(p => p.Text, _ => new List<int>(), StringComparer.Ordinal);
        var positions = placeholders.ToDictionary(p => p.Text, _ => new List<int>(), StringComparer.Ordinal);
        var imageSpans = new List<ImageSpan>(images.Count);
        for (int i = 0; i < pieces.Count; i++)
        {
            int start = ids.Count;
            ids.AddRange(_tokenizer.Encode(pieces[i], isTextStart: i == 0));
            if (words[i].Length > 0)
            {
                // The word's tokens, where the piece's encoding starts with them (a pre-tokenizer splits at spaces, so it does).
                var word = _tokenizer.Encode(words[i], isTextStart: false);
                if (ids.Count - start >= word.Count && ids.Skip(start).Take(word.Count).SequenceEqual(word))
                    wordPositions[occurrences[i - 1].Placeholder!.Text].AddRange(Enumerable.Range(start, word.Count));
            }
            if (i == occurrences.Count)
                break;
            if (occurrences[i].Placeholder is not { } placeholder)
            {
                var image = images[imageSpans.Count];
                CheckImageTokens(image, imageSpans.Count);
                imageSpans.Add(new ImageSpan(ids.Count, image.Length));
                ids.AddRange(image);
                continue;
            }
            for (int k = 0; k < placeholder.SlotCount; k++)
            {
                positions[placeholder.Text].Add(ids.Count);
                ids.Add(SlotFillerId);
            }
        }
        if (!endOfTurnIsAddedToken)
            ids.Add(_vocabulary.EndOfTurn);
        return new PromptTokens(ids.ToArray(), placeholders.Select(p => new TextSlot(p.Text, positions[p.Text]) { WordPositions = wordPositions[p.Text] }).ToArray())
        {
            Images = imageSpans,
        };
    }

    /// <summary>The leading spaces and the first run of non-space characters of <paramref name="text"/> (" dog" of " dog on the beach").</summary>
    private static string FirstWord(string text)
    {
        int end = 0;
        while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
        while (end < text.Length && !char.IsWhiteSpace(text[end]) && !char.IsPunctuation(text[end])) end++;
        return text[..end].Trim().Length == 0 ? "" : text[..end];
    }

    /// <summary>A reference image's tokens must open with the image start and close with the image end, as encoded.</summary>
    private void CheckImageTokens(int[] image, int index)
    {
        if (image.Length < 4 || image[0] != _vocabulary.ImageStart || image[^1] != _vocabulary.ImageEnd)
            throw new ArgumentException($"reference image {index + 1}: its tokens must run from the image start {_vocabulary.ImageStart} to the image end {_vocabulary.ImageEnd}");
    }

    /// <summary>The tokens that open an image of this size: image start, height token, width token.</summary>
    public int[] ImageHeader(int widthPx, int heightPx)
    {
        LuminaImageSizes.Validate(widthPx, heightPx, TargetSize);
        return
        [
            _vocabulary.ImageStart,
            _vocabulary.SizeToken(heightPx / LuminaImageSizes.CellPixels),
            _vocabulary.SizeToken(widthPx / LuminaImageSizes.CellPixels),
        ];
    }

    private static string Instruction(int widthPx, int heightPx) =>
        $"Generate an image of {widthPx}x{heightPx} according to the following prompt:\n";

    private static void ValidatePlaceholders(IReadOnlyList<PromptPlaceholder> placeholders)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var placeholder in placeholders)
        {
            if (string.IsNullOrEmpty(placeholder.Text))
                throw new ArgumentException("A placeholder's text must not be empty.");
            if (placeholder.SlotCount < 1)
                throw new ArgumentException($"Placeholder {placeholder.Text}: the slot count must be at least 1, found {placeholder.SlotCount}.");
            if (!seen.Add(placeholder.Text))
                throw new ArgumentException($"Placeholder {placeholder.Text} is given twice.");
            if (placeholder.Text.Contains(ImagePlaceholder, StringComparison.Ordinal))
                throw new ArgumentException($"Placeholder {placeholder.Text}: {ImagePlaceholder} marks a reference image, not a concept.");
        }
    }

    // Leftmost occurrences, the longest placeholder where several start at the same place; an image symbol has no
    // placeholder (null).
    private static List<(int Start, int End, PromptPlaceholder? Placeholder)> FindOccurrences(string text,
        IReadOnlyList<PromptPlaceholder> placeholders)
    {
        var byLength = placeholders.OrderByDescending(p => p.Text.Length).ToArray();
        var found = new List<(int, int, PromptPlaceholder?)>();
        for (int at = 0; at < text.Length;)
        {
            int from = at;
            var match = byLength.FirstOrDefault(p => text.AsSpan(from).StartsWith(p.Text, StringComparison.Ordinal));
            bool image = text.AsSpan(at).StartsWith(ImagePlaceholder, StringComparison.Ordinal);
            if (match is not null && !(image && match.Text.Length < ImagePlaceholder.Length))
            {
                found.Add((at, at + match.Text.Length, match));
                at += match.Text.Length;
            }
            else if (image)
            {
                found.Add((at, at + ImagePlaceholder.Length, null));
                at += ImagePlaceholder.Length;
            }
            else
                at++;
        }
        return found;
    }

    private void CheckBindings(string caption, IReadOnlyList<PromptPlaceholder> placeholders,
        List<(int Start, int End, PromptPlaceholder? Placeholder)> occurrences, List<string> textPieces)
    {
        foreach (var placeholder in placeholders)
        {
            if (!occurrences.Any(o => o.Placeholder == placeholder))
                throw new ArgumentException($"Placeholder {placeholder.Text} is bound to a concept but does not appear in the caption \"{caption}\".");
        }
        foreach (string reserved in ReservedPlaceholders)
        {
            if (textPieces.Any(piece => piece.Contains(reserved, StringComparison.Ordinal)))
                throw new ArgumentException($"The caption \"{caption}\" contains the placeholder {reserved}, but no concept is bound to it.");
        }
    }
}
