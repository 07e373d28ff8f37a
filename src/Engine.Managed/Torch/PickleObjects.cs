using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Torch;

// The inert values the restricted unpickler builds. Python None is null, int is long (or BigInteger), float is double,
// str is string, bytes is byte[], tuple is object?[], list and set are List<object?>.

internal enum PickleGlobalKind
{
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    OrderedDict,
    Set,
    StorageType,
}

/// <summary>An allowed global (module.name) resolved to what it means here; nothing is ever called.</summary>
internal sealed record PickleGlobal(string Module, string Name, PickleGlobalKind Kind, DType StorageDType = default)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A dict or OrderedDict, in insertion order.</summary>
internal sealed class PickleDict
{
    private readonly List<KeyValuePair<object?, object?>> _entries = [];
    private readonly Dictionary<object, int> _index = [];

    internal IReadOnlyList<KeyValuePair<object?, object?>> Entries => _entries;

    internal void Set(object? key, object? value)
    {
        if (key is string or long or bool)
        {
            if (_index.TryGetValue(key, out int at))
            {
                _entries[at] = new(key, value);
                return;
            }
            _index[key] = _entries.Count;
        }
        _entries.Add(new(key, value));
    }
}

/// <summary>One storage record of the archive (<c>data/{Key}</c>), shared by every tensor that views it.</summary>
internal sealed record TorchStorageRef(string Key, DType DType, long ElementCount, string Location);

/// <summary>A tensor as <c>_rebuild_tensor_v2</c> describes it: a strided view (in elements) of a storage.</summary>
internal sealed record TorchTensorRef(TorchStorageRef Storage, long Offset, long[] Shape, long[] Stride);
