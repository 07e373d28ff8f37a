namespace CoAR.Engine.Managed.Cuda;

/// <summary>A GPU architecture version (8.0 = A100, 9.0 = H100), as NVRTC targets and the driver reports it.</summary>
public readonly record struct ComputeCapability(int Major, int Minor) : IComparable<ComputeCapability>
{
    /// <summary>The two digits NVRTC and nvcc use: 80, 90.</summary>
    public int Value => Major * 10 + Minor;

    /// <summary>The real-architecture name a CUBIN is built for: "sm_90".</summary>
    public string SmName => $"sm_{Value}";

    /// <summary>The virtual-architecture name PTX is built for: "compute_90".</summary>
    public string ComputeName => $"compute_{Value}";

    public static ComputeCapability FromValue(int value) => new(value / 10, value % 10);

    /// <summary>Parses "8.0", "80", "sm_80" or "compute_80".</summary>
    public static ComputeCapability Parse(string text)
    {
        var digits = text.Trim();
        foreach (var prefix in new[] { "sm_", "compute_" })
        {
            if (digits.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                digits = digits[prefix.Length..];
        }
        var parts = digits.Split('.');
        if (parts.Length == 2 && int.TryParse(parts[0], out var major) && int.TryParse(parts[1], out var minor) && minor is >= 0 and < 10)
            return new ComputeCapability(major, minor);
        if (parts.Length == 1 && int.TryParse(parts[0], out var value) && value >= 10)
            return FromValue(value);
        throw new FormatException($"'{text}' is not a compute capability: expected e.g. 8.0, 80, sm_80 or compute_80");
    }

    public int CompareTo(ComputeCapability other) => Value.CompareTo(other.Value);

    public override string ToString() => $"{Major}.{Minor}";
}
