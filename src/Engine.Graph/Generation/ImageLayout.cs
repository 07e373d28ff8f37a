namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// How an image of W x H pixels is laid out as tokens: [start, 8804 + H/32, 8804 + W/32] then H/16 rows of W/16 codes
/// each followed by a new line, then end of image and end of turn. Height comes before width.
/// </summary>
public sealed record ImageLayout(int WidthPx, int HeightPx, ImageTokenIds Ids)
{
    public int LatentWidth => WidthPx / 16;
    public int LatentHeight => HeightPx / 16;

    /// <summary>Body tokens: every row's codes and its new line.</summary>
    public int BodyLength => LatentHeight * (LatentWidth + 1);

    /// <summary>The whole image phase: header (3) + body + end of image + end of turn.</summary>
    public int SequenceLength => 3 + BodyLength + 2;

    public int[] Header => [Ids.ImageStart, Ids.SizeBase + HeightPx / 32, Ids.SizeBase + WidthPx / 32];

    public static ImageLayout For(int widthPx, int heightPx, ImageTokenIds? ids = null)
    {
        // The size tokens count 32-pixel units: anything else cannot be said to the model.
        if (widthPx <= 0 || heightPx <= 0 || widthPx % 32 != 0 || heightPx % 32 != 0)
            throw new ArgumentException($"image size {widthPx}x{heightPx}: width and height must be positive multiples of 32 pixels");
        return new ImageLayout(widthPx, heightPx, ids ?? ImageTokenIds.Chameleon);
    }

    /// <summary>"768" (square) or "WxH" (width first), in pixels: how sizes are written on the command line and in requests.</summary>
    public static bool TryParseSize(string text, out int width, out int height)
    {
        width = height = 0;
        var parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length is not (1 or 2)) return false;
        const System.Globalization.NumberStyles digits = System.Globalization.NumberStyles.None;
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        if (!int.TryParse(parts[0], digits, culture, out width) || width <= 0) return false;
        if (parts.Length == 1)
        {
            height = width;
            return true;
        }
        return int.TryParse(parts[1], digits, culture, out height) && height > 0;
    }

    /// <summary>
    /// The rule for body token n (n tokens of the body already generated), as (forced id or -1, allowed from, to):
    /// a new line at each row end, the end-of-image token after the last row, image codes otherwise.
    /// </summary>
    public (int Forced, int From, int To) RuleFor(int n)
    {
        int w1 = LatentWidth + 1;
        if ((n + 1) % w1 == 0) return (Ids.NewLine, 0, 0);
        if (n + 1 == w1 * LatentHeight + 1) return (Ids.ImageEnd, 0, 0);
        return (-1, Ids.FirstCode, Ids.FirstCode + Ids.CodeCount);
    }

    /// <summary>The latent codes (row-major, h outer) of a complete image-phase or body token sequence; new lines dropped.</summary>
    public int[] Codes(ReadOnlySpan<int> tokens)
    {
        var codes = new List<int>(LatentWidth * LatentHeight);
        int start = tokens.Length > 0 && tokens[0] == Ids.ImageStart ? 3 : 0;
        for (int i = start; i < tokens.Length && codes.Count < LatentWidth * LatentHeight; i++)
        {
            int t = tokens[i];
            if (t == Ids.NewLine) continue;
            if (!Ids.IsCode(t))
                throw new ArgumentException($"token {i} of the image is {t}, neither an image code [{Ids.FirstCode}, {Ids.FirstCode + Ids.CodeCount}) nor a new line ({Ids.NewLine})");
            codes.Add(t - Ids.FirstCode);
        }
        if (codes.Count != LatentWidth * LatentHeight)
            throw new ArgumentException($"the image tokens hold {codes.Count} codes; a {WidthPx}x{HeightPx} image needs {LatentWidth * LatentHeight}");
        return codes.ToArray();
    }

    /// <summary>The body tokens for given codes: rows of codes, each ended by a new line.</summary>
    public int[] Body(ReadOnlySpan<int> codes)
    {
        if (codes.Length != LatentWidth * LatentHeight)
            throw new ArgumentException($"{codes.Length} codes given; a {WidthPx}x{HeightPx} image has {LatentWidth * LatentHeight}");
        var body = new int[BodyLength];
        int k = 0;
        for (int y = 0; y < LatentHeight; y++)
        {
            for (int x = 0; x < LatentWidth; x++)
            {
                int c = codes[y * LatentWidth + x];
                if ((uint)c >= (uint)Ids.CodeCount) throw new ArgumentOutOfRangeException(nameof(codes), $"code {c} at ({y}, {x}) is outside [0, {Ids.CodeCount})");
                body[k++] = Ids.FirstCode + c;
            }
            body[k++] = Ids.NewLine;
        }
        return body;
    }
}
