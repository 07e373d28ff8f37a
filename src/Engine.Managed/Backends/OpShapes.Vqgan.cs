using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>The image tokenizer's ops on NCHW activations.</summary>
public static partial class OpShapes
{
    /// <summary>
    /// x [N, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout] or null, y [N, Cout, Ho, Wo] as the geometry gives,
    /// apart from x.
    /// </summary>
    public static (int N, int Cin, int H, int W, int Cout, int Kh, int Kw, int Ho, int Wo) Conv2d(string op, Tensor x, Tensor weight,
        Tensor? bias, Conv2dGeometry geometry, Tensor y)
    {
        OpCheck.Rank(op, "x", x, 4);
        OpCheck.Rank(op, "weight", weight, 4);
        int n = x.Dim(0), cin = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        int cout = weight.Dim(0), kh = weight.Dim(2), kw = weight.Dim(3);
        OpCheck.Shape(op, "weight", weight, cout, cin, kh, kw);
        if (bias is not null) OpCheck.Shape(op, "bias", bias, cout);
        int ho = geometry.OutputSize(h, kh, height: true), wo = geometry.OutputSize(w, kw, height: false);
        OpCheck.Shape(op, "y", y, n, cout, ho, wo);
        OpCheck.NoAlias(op, "x", x, "y", y);
        return (n, cin, h, w, cout, kh, kw, ho, wo);
    }

    /// <summary>x [N, C, H, W], gamma and beta [C] with groups dividing C, y like x and either x itself or apart from it.</summary>
    public static (int N, int C, int H, int W) GroupNorm(string op, Tensor x, Tensor gamma, Tensor beta, int groups, Tensor y)
    {
        OpCheck.Rank(op, "x", x, 4);
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        OpCheck.Shape(op, "gamma", gamma, c);
        OpCheck.Shape(op, "beta", beta, c);
        OpCheck.SameShape(op, "x", x, "y", y);
        if (x.Address != y.Address) OpCheck.NoAlias(op, "x", x, "y", y);
        if (groups < 1 || c % groups != 0)
            throw new ArgumentException($"{op}: {groups} groups do not divide {c} channels");
        return (n, c, h, w);
    }

    /// <summary>x [N, C, H, W], y [N, C, 2H, 2W] apart from x.</summary>
    public static (int N, int C, int H, int W) Upsample2x(string op, Tensor x, Tensor y)
    {
        OpCheck.Rank(op, "x", x, 4);
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        OpCheck.Shape(op, "y", y, n, c, checked(2 * h), checked(2 * w));
        OpCheck.NoAlias(op, "x", x, "y", y);
        return (n, c, h, w);
    }

    /// <summary>q, k, v, y [N, C, H, W], y apart from the others; returns (N, C, H*W).</summary>
    public static (int N, int C, int P) SpatialAttention(string op, Tensor q, Tensor k, Tensor v, Tensor y)
    {
        OpCheck.Rank(op, "q", q, 4);
        OpCheck.SameShape(op, "q", q, "k", k);
        OpCheck.SameShape(op, "q", q, "v", v);
        OpCheck.SameShape(op, "q", q, "y", y);
        OpCheck.NoAlias(op, "q", q, "y", y);
        OpCheck.NoAlias(op, "k", k, "y", y);
        OpCheck.NoAlias(op, "v", v, "y", y);
        return (q.Dim(0), q.Dim(1), checked(q.Dim(2) * q.Dim(3)));
    }

    /// <summary>The codebook arguments (see <see cref="Codebook"/>) with at least one entry to choose from.</summary>
    public static (int N, int C, int P, int Entries) CodebookArgmin(string op, Tensor z, Tensor codebook, Tensor codes)
    {
        var sizes = Codebook(op, z, codebook, codes);
        if (sizes.Entries == 0) throw new ArgumentException($"{op}: argument 'codebook' ({codebook.Describe()}) has no entries");
        return sizes;
    }

    /// <summary>The codebook arguments (see <see cref="Codebook"/>).</summary>
    public static (int N, int C, int P, int Entries) CodebookLookup(string op, Tensor codes, Tensor codebook, Tensor z) =>
        Codebook(op, z, codebook, codes);

    /// <summary>z [N, C, H, W], codebook [E, C], codes [N, H*W]; returns (N, C, H*W, E).</summary>
    private static (int N, int C, int P, int Entries) Codebook(string op, Tensor z, Tensor codebook, Tensor codes)
    {
        OpCheck.Rank(op, "z", z, 4);
        OpCheck.Rank(op, "codebook", codebook, 2);
        int n = z.Dim(0), c = z.Dim(1), p = checked(z.Dim(2) * z.Dim(3)), entries = codebook.Dim(0);
        OpCheck.Shape(op, "codebook", codebook, entries, c);
        OpCheck.Shape(op, "codes", codes, n, p);
        return (n, c, p, entries);
    }
}
