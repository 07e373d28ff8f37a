namespace CoAR.Engine.Graph.Model;

/// <summary>One of a decoder layer's seven linear projections, the weights an adapter or a fine-tune can change.</summary>
public enum Projection
{
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

/// <summary>Names of the projections: Hugging Face's module names (what PEFT's target_modules lists) and the short ones the CLI takes.</summary>
public static class Projections
{
    public static readonly Projection[] All = Enum.GetValues<Projection>();

    /// <summary>q, k and v of attention: what PersonalAR fine-tunes and LoRA adapts by default.</summary>
    public static readonly Projection[] Qkv = [Projection.Q, Projection.K, Projection.V];

    /// <summary>The module's name in the Hugging Face checkpoint under model.layers.{i}: "self_attn.q_proj", "mlp.gate_proj".</summary>
    public static string ModulePath(this Projection p) => p switch
    {
        Projection.Q => "self_attn.q_proj",
        Projection.K => "self_attn.k_proj",
        Projection.V => "self_attn.v_proj",
        Projection.O => "self_attn.o_proj",
        Projection.Gate => "mlp.gate_proj",
        Projection.Up => "mlp.up_proj",
        Projection.Down => "mlp.down_proj",
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    /// <summary>The last part of <see cref="ModulePath"/>: "q_proj", as PEFT's target_modules names it.</summary>
    public static string ModuleName(this Projection p) => p.ModulePath()[(p.ModulePath().IndexOf('.') + 1)..];

    /// <summary>
    /// Parses a projection by its short name (q, k, v, o, gate, up, down) or module name (q_proj, ...); null when it
    /// is neither.
    /// </summary>
    public static Projection? Parse(string name)
    {
        string s = name.Trim().ToLowerInvariant();
        if (s.EndsWith("_proj", StringComparison.Ordinal)) s = s[..^5];
        return s switch
        {
            "q" => Projection.Q, "k" => Projection.K, "v" => Projection.V, "o" => Projection.O,
            "gate" => Projection.Gate, "up" => Projection.Up, "down" => Projection.Down,
            _ => null,
        };
    }

    /// <summary>The layer's weights with projection <paramref name="p"/> replaced.</summary>
    public static LayerWeights With(this LayerWeights w, Projection p, Managed.Tensors.Tensor weight) => p switch
    {
        Projection.Q => w with { Q = weight }, Projection.K => w with { K = weight }, Projection.V => w with { V = weight },
        Projection.O => w with { O = weight }, Projection.Gate => w with { Gate = weight }, Projection.Up => w with { Up = weight },
        Projection.Down => w with { Down = weight },
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    /// <summary>The weight of <paramref name="p"/> in a layer.</summary>
    public static Managed.Tensors.Tensor Of(this LayerWeights w, Projection p) => p switch
    {
        Projection.Q => w.Q, Projection.K => w.K, Projection.V => w.V, Projection.O => w.O,
        Projection.Gate => w.Gate, Projection.Up => w.Up, Projection.Down => w.Down,
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };
}
