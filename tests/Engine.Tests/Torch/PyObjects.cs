using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Tests.Torch;

// Test-side stand-ins for the Python objects a torch.save call pickles. Identity matters (as in Python): the same
// instance pickled twice is memoized, so shared storages and repeated strings come out as BINGET.

/// <summary>A plain dict, in insertion order.</summary>
internal sealed class PyDict(params (object Key, object? Value)[] items)
{
    internal List<(object Key, object? Value)> Items { get; } = [.. items];
}

/// <summary>collections.OrderedDict, optionally with instance attributes (state_dict()._metadata).</summary>
internal sealed class PyOrderedDict(params (object Key, object? Value)[] items)
{
    internal List<(object Key, object? Value)> Items { get; } = [.. items];
    internal PyDict? Attributes { get; init; }
}

/// <summary>A typed storage: torch.{TypeName} with raw little-endian bytes.</summary>
internal sealed class FakeStorage(string typeName, DType dtype, byte[] data)
{
    internal string TypeName { get; } = typeName;
    internal DType DType { get; } = dtype;
    internal byte[] Data { get; } = data;
    internal long ElementCount => Data.Length / DType.SizeOf();
}

/// <summary>A tensor: a view (offset, size, stride in elements) of a storage, pickled via _rebuild_tensor_v2.</summary>
internal sealed class FakeTensor(FakeStorage storage, long offset, long[] size, long[] stride)
{
    internal FakeStorage Storage { get; } = storage;
    internal long Offset { get; } = offset;
    internal long[] Size { get; } = size;
    internal long[] Stride { get; } = stride;

    internal static FakeTensor Contiguous(FakeStorage storage, params long[] size)
    {
        var stride = new long[size.Length];
        long s = 1;
        for (int d = size.Length - 1; d >= 0; d--)
        {
            stride[d] = s;
            s *= size[d];
        }
        return new FakeTensor(storage, 0, size, stride);
    }
}

/// <summary>nn.Parameter, pickled via _rebuild_parameter(data, requires_grad, hooks).</summary>
internal sealed class FakeParameter(FakeTensor data)
{
    internal FakeTensor Data { get; } = data;
}

/// <summary>Any global called with arguments (what a malicious pickle does: os.system('...')).</summary>
internal sealed class PyCall(string module, string name, params object?[] args)
{
    internal string Module { get; } = module;
    internal string Name { get; } = name;
    internal object?[] Args { get; } = args;
}
