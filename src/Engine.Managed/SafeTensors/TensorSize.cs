namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>Element counts and byte sizes of shapes, with the overflow checks the format requires.</summary>
internal static class TensorSize
{
    /// <summary>prod(shape); a 0-d tensor has one element. Throws OverflowException past 2^63.</summary>
    public static long ElementCount(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long dim in shape)
            count = checked(count * dim);
        return count;
    }

    /// <summary>
    /// The byte size of a shape; false with the failure's kind (SizeOverflow, or ByteSizeMismatch for sub-byte dtypes
    /// that do not fill whole bytes) and an explanation.
    /// </summary>
    public static bool TryByteLength(ReadOnlySpan<long> shape, int bitsPerElement, out long bytes,
        out SafeTensorsError errorKind, out string error)
    {
        bytes = 0;
        long bits;
        try
        {
            bits = checked(ElementCount(shape) * bitsPerElement);
        }
        catch (OverflowException)
        {
            errorKind = SafeTensorsError.SizeOverflow;
            error = $"shape {Format(shape)} at {bitsPerElement} bits per element overflows a 64-bit size";
            return false;
        }
        if (bits % 8 != 0)
        {
            errorKind = SafeTensorsError.ByteSizeMismatch;
            error = $"shape {Format(shape)} at {bitsPerElement} bits per element is {bits} bits, not a whole number of bytes";
            return false;
        }
        bytes = bits / 8;
        errorKind = default;
        error = "";
        return true;
    }

    public static string Format(ReadOnlySpan<long> shape) => $"[{string.Join(", ", shape.ToArray())}]";
}
