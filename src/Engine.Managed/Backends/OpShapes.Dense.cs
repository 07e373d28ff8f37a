using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// The structure every backend requires of an op's arguments (ranks, shapes and their agreement, aliasing, token maps,
/// caches), in one method per op, so that a misshapen call fails with the same message on every backend. Ownership and
/// dtypes differ between backends and stay with them: a backend checks those first (a tensor from another backend is
/// named as such before its shape is read), then calls the op's method here, which returns the sizes the op works with.
/// </summary>
public static partial class OpShapes
{
    /// <summary>x [M, K], w [N, K], y [M, N] apart from x.</summary>
    public static (int M, int K, int N) MatMul(string op, Tensor x, Tensor w, Tensor y)
    {
        OpCheck.Rank(op, "x", x, 2);
        OpCheck.Rank(op, "w", w, 2);
        int m = x.Dim(0), k = x.Dim(1), n = w.Dim(0);
        OpCheck.Shape(op, "w", w, n, k);
        OpCheck.Shape(op, "y", y, m, n);
        OpCheck.NoAlias(op, "x", x, "y", y);
        return (m, k, n);
    }

    /// <summary>dy [M, N], w [N, K], dx [M, K] apart from dy.</summary>
    public static (int M, int N, int K) MatMulInputGrad(string op, Tensor dy, Tensor w, Tensor dx)
    {
        OpCheck.Rank(op, "dy", dy, 2);
        OpCheck.Rank(op, "w", w, 2);
        int m = dy.Dim(0), n = dy.Dim(1), k = w.Dim(1);
        OpCheck.Shape(op, "w", w, n, k);
        OpCheck.Shape(op, "dx", dx, m, k);
        OpCheck.NoAlias(op, "dy", dy, "dx", dx);
        return (m, n, k);
    }

    /// <summary>dy [M, N], x [M, K], dw [N, K] apart from both.</summary>
    public static (int M, int N, int K) WeightGradient(string op, Tensor dy, Tensor x, Tensor dw)
    {
        OpCheck.Rank(op, "dy", dy, 2);
        OpCheck.Rank(op, "x", x, 2);
        int m = dy.Dim(0), n = dy.Dim(1), k = x.Dim(1);
        OpCheck.Shape(op, "x", x, m, k);
        OpCheck.Shape(op, "dw", dw, n, k);
        OpCheck.NoAlias(op, "dy", dy, "dw", dw);
        OpCheck.NoAlias(op, "x", x, "dw", dw);
        return (m, n, k);
    }

    /// <summary>x [T, D], weight [D], y like x (y may be x).</summary>
    public static (int T, int D) RmsNorm(string op, Tensor x, Tensor weight, Tensor y)
    {
        OpCheck.Rank(op, "x", x, 2);
        int t = x.Dim(0), d = x.Dim(1);
        OpCheck.Shape(op, "weight", weight, d);
        OpCheck.SameShape(op, "x", x, "y", y);
        return (t, d);
    }

    /// <summary>x [T, H, Dh], gamma and beta [G, Dh] with G dividing H, y like x (y may be x).</summary>
    public static (int T, int Heads, int Dh, int Groups) HeadLayerNorm(string op, Tensor x, Tensor gamma, Tensor beta, Tensor y)
    {
        OpCheck.Rank(op, "x", x, 3);
        int t = x.Dim(0), heads = x.Dim(1), dh = x.Dim(2);
        int groups = HeadGroups(op, gamma, heads, dh);
        OpCheck.Shape(op, "beta", beta, groups, dh);
        OpCheck.SameShape(op, "x", x, "y", y);
        return (t, heads, dh, groups);
    }

    /// <summary>
    /// RoPE and its backward (the names say which): x [T, H, Dh] with Dh even, positions [T], y like x and either x
    /// itself or apart from it.
    /// </summary>
    public static (int T, int Heads, int Dh) Rope(string op, string xName, Tensor x, string yName, Tensor y, Tensor positions)
    {
        OpCheck.Rank(op, xName, x, 3);
        int t = x.Dim(0), heads = x.Dim(1), dh = x.Dim(2);
        if (dh % 2 != 0) throw new ArgumentException($"{op}: head dimension {dh} must be even");
        OpCheck.Shape(op, "positions", positions, t);
        OpCheck.SameShape(op, xName, x, yName, y);
        if (y.Address != x.Address) OpCheck.NoAlias(op, xName, x, yName, y);
        return (t, heads, dh);
    }

    /// <summary>gate, up, output of one shape (output may be gate or up).</summary>
    public static void SwiGlu(string op, Tensor gate, Tensor up, Tensor output)
    {
        OpCheck.SameShape(op, "gate", gate, "up", up);
        OpCheck.SameShape(op, "gate", gate, "output", output);
    }

    /// <summary>a, b, y of one shape (y may be a or b).</summary>
    public static void Add(string op, Tensor a, Tensor b, Tensor y)
    {
        OpCheck.SameShape(op, "a", a, "b", b);
        OpCheck.SameShape(op, "a", a, "y", y);
    }

    /// <summary>x, dy, dx [T, D] with dx apart from x and dy; weight [D].</summary>
    public static (int T, int D) RmsNormBackward(string op, Tensor x, Tensor weight, Tensor dy, Tensor dx)
    {
        GradArgs(op, x, dy, dx, rank: 2);
        int t = x.Dim(0), d = x.Dim(1);
        OpCheck.Shape(op, "weight", weight, d);
        return (t, d);
    }

    /// <summary>x, dy, dx [T, H, Dh] with dx apart from x and dy; gamma [G, Dh] with G dividing H.</summary>
    public static (int T, int Heads, int Dh, int Groups) HeadLayerNormBackward(string op, Tensor x, Tensor gamma, Tensor dy, Tensor dx)
    {
        GradArgs(op, x, dy, dx, rank: 3);
        int t = x.Dim(0), heads = x.Dim(1), dh = x.Dim(2);
        int groups = HeadGroups(op, gamma, heads, dh);
        return (t, heads, dh, groups);
    }

    /// <summary>
    /// gate, up, dOut, dGate, dUp of one shape. Which outputs may not overlap which inputs stays with each backend: the
    /// backends check (and name) the pairs in different orders.
    /// </summary>
    public static void SwiGluBackward(string op, Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp)
    {
        OpCheck.SameShape(op, "gate", gate, "up", up);
        OpCheck.SameShape(op, "gate", gate, "dOut", dOut);
        OpCheck.SameShape(op, "gate", gate, "dGate", dGate);
        OpCheck.SameShape(op, "gate", gate, "dUp", dUp);
    }

    /// <summary>The backward of a shape-preserving row op: x of the given rank, dy and dx like x, dx apart from both.</summary>
    private static void GradArgs(string op, Tensor x, Tensor dy, Tensor dx, int rank)
    {
        OpCheck.Rank(op, "x", x, rank);
        OpCheck.SameShape(op, "x", x, "dy", dy);
        OpCheck.SameShape(op, "x", x, "dx", dx);
        OpCheck.NoAlias(op, "x", x, "dx", dx);
        OpCheck.NoAlias(op, "dy", dy, "dx", dx);
    }

    /// <summary>gamma [G, Dh] with G dividing the heads; returns G.</summary>
    private static int HeadGroups(string op, Tensor gamma, int heads, int dh)
    {
        OpCheck.Rank(op, "gamma", gamma, 2);
        int groups = gamma.Dim(0);
        OpCheck.Shape(op, "gamma", gamma, groups, dh);
        if (groups == 0 || heads % groups != 0)
            throw new ArgumentException($"{op}: {groups} norm groups do not divide {heads} heads");
        return groups;
    }
}
