namespace CoAR.Engine.Graph.Model;

/// <summary>
/// One tensor a model expects: its name, its shape, and the parameter group it is counted under. A dimension of
/// <see cref="AnyDivisor"/> accepts any size that divides <see cref="DivisorOf"/> (Lumina's qk-norm rows).
/// </summary>
public sealed record TensorSpec(string Name, int[] Shape, string Group, int DivisorOf = 0)
{
    public const int AnyDivisor = -1;

    public bool Matches(ReadOnlySpan<long> shape)
    {
        if (shape.Length != Shape.Length) return false;
        for (int i = 0; i < Shape.Length; i++)
        {
            bool ok = Shape[i] == AnyDivisor
                ? shape[i] > 0 && DivisorOf % shape[i] == 0
                : shape[i] == Shape[i];
            if (!ok) return false;
        }
        return true;
    }

    public string DescribeShape() =>
        "[" + string.Join(", ", Shape.Select(d => d == AnyDivisor ? $"G (dividing {DivisorOf})" : d.ToString())) + "]";
}
