namespace CoAR.Engine.Managed.Torch;

/// <summary>Copies a strided view of a storage (offset, shape and stride in elements) into contiguous row-major bytes.</summary>
internal static class StridedGather
{
    /// <param name="what">Names the tensor in errors.</param>
    internal static byte[] Gather(ReadOnlySpan<byte> storage, long storageElements, int elementSize, long offset,
        long[] shape, long[] stride, string what)
    {
        long count = 1;
        long lastIndex = offset;
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] < 0 || stride[d] < 0)
                throw new InvalidDataException($"{what}: negative size or stride ({Dims(shape)} / {Dims(stride)})");
            count = checked(count * shape[d]);
            if (shape[d] > 0)
                lastIndex = checked(lastIndex + (shape[d] - 1) * stride[d]);
        }
        if (count == 0)
            return [];
        if (offset < 0 || lastIndex >= storageElements)
            throw new InvalidDataException($"{what}: view (offset {offset}, size {Dims(shape)}, stride {Dims(stride)}) "
                                           + $"reaches element {lastIndex} of a {storageElements}-element storage");
        long bytes = checked(count * elementSize);
        if (bytes > Array.MaxLength)
            throw new InvalidDataException($"{what}: {bytes} bytes is more than one array holds");

        var result = new byte[bytes];
        if (IsContiguous(shape, stride))
        {
            storage.Slice(checked((int)(offset * elementSize)), (int)bytes).CopyTo(result);
            return result;
        }

        // Walk the index space with a counter; the innermost dimension is copied element by element.
        int rank = shape.Length;
        var index = new long[rank];
        long source = offset;
        int inner = rank - 1;
        for (long written = 0; written < bytes;)
        {
            for (long i = 0; i < shape[inner]; i++)
            {
                storage.Slice((int)((source + i * stride[inner]) * elementSize), elementSize)
                    .CopyTo(result.AsSpan((int)written, elementSize));
                written += elementSize;
            }
            for (int d = inner - 1; d >= 0; d--)
            {
                index[d]++;
                source += stride[d];
                if (index[d] < shape[d])
                    break;
                source -= index[d] * stride[d];
                index[d] = 0;
            }
        }
        return result;
    }

    private static bool IsContiguous(long[] shape, long[] stride)
    {
        long expected = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] != 1 && stride[d] != expected)
                return false;
            expected *= shape[d];
        }
        return true;
    }

    private static string Dims(long[] values) => $"[{string.Join(",", values)}]";
}
