using System.Buffers.Binary;
using System.Text;

namespace CoAR.Engine.Tests.Torch;

/// <summary>
/// Pickles <see cref="PyObjects"/> stand-ins exactly as CPython's C pickler does at protocol 2 under torch.save:
/// serialization._save's persistent_id for storages (('storage', torch.XStorage, key, 'cpu', numel) + BINPERSID),
/// Tensor.__reduce_ex__ (_rebuild_tensor_v2 with (storage, offset, size, stride, False, OrderedDict())),
/// OrderedDict.__reduce__ (GLOBAL, EMPTY_TUPLE, REDUCE, items, optional state + BUILD), and the memo (BINPUT after
/// every str, tuple, list, dict, global and reduce result; BINGET when the same object comes again).
/// </summary>
internal sealed class TorchPickleWriter
{
    private const int BatchSize = 1000;

    private readonly MemoryStream _out = new();
    private readonly Dictionary<object, int> _memo = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, int> _globals = [];
    private readonly Dictionary<FakeStorage, string> _storageKeys = new(ReferenceEqualityComparer.Instance);
    private int _nextMemo;

    /// <summary>The data.pkl bytes and the storages they refer to, by archive key ("0", "1", ...).</summary>
    internal static (byte[] Pickle, Dictionary<string, FakeStorage> Storages) Dump(object? root)
    {
        var writer = new TorchPickleWriter();
        writer._out.Write([0x80, 2]);
        writer.Save(root);
        writer._out.WriteByte((byte)'.');
        return (writer._out.ToArray(), writer._storageKeys.ToDictionary(kv => kv.Value, kv => kv.Key));
    }

    private void Save(object? obj)
    {
        switch (obj)
        {
            case FakeStorage storage:
                SavePersistentId(storage);
                return;
            case null:
                Op('N');
                return;
            case bool b:
                _out.WriteByte(b ? (byte)0x88 : (byte)0x89);
                return;
            case int i:
                SaveInt(i);
                return;
            case long l:
                SaveInt(l);
                return;
            case double d:
                Op('G');
                Span<byte> bytes = stackalloc byte[8];
                BinaryPrimitives.WriteDoubleBigEndian(bytes, d);
                _out.Write(bytes);
                return;
        }
        if (_memo.TryGetValue(obj, out int index))
        {
            Get(index);
            return;
        }
        switch (obj)
        {
            case string s:
                Op('X');
                byte[] utf8 = Encoding.UTF8.GetBytes(s);
                WriteU32(utf8.Length);
                _out.Write(utf8);
                Put(s);
                break;
            case object?[] tuple:
                SaveTuple(tuple);
                break;
            case List<object?> list:
                Op(']');
                Put(list);
                SaveAppends(list);
                break;
            case PyDict dict:
                Op('}');
                Put(dict);
                SaveSetItemsExact(dict.Items);
                break;
            case PyOrderedDict ordered:
                SaveGlobal("collections", "OrderedDict");
                Op(')');
                Op('R');
                Put(ordered);
                SaveSetItemsGeneric(ordered.Items);
                if (ordered.Attributes is { } state)
                {
                    Save(state);
                    Op('b');
                }
                break;
            case FakeTensor tensor:
                SaveGlobal("torch._utils", "_rebuild_tensor_v2");
                Save(new object?[]
                {
                    tensor.Storage, tensor.Offset, tensor.Size.Cast<object?>().ToArray(),
                    tensor.Stride.Cast<object?>().ToArray(), false, new PyOrderedDict(),
                });
                Op('R');
                Put(tensor);
                break;
            case FakeParameter parameter:
                SaveGlobal("torch._utils", "_rebuild_parameter");
                Save(new object?[] { parameter.Data, true, new PyOrderedDict() });
                Op('R');
                Put(parameter);
                break;
            case PyCall call:
                SaveGlobal(call.Module, call.Name);
                Save(call.Args);
                Op('R');
                Put(call);
                break;
            default:
                throw new ArgumentException($"cannot pickle {obj.GetType().Name}");
        }
    }

    // torch.save's persistent_id: a fresh 5-tuple each time, the key string reused for a storage seen before.
    private void SavePersistentId(FakeStorage storage)
    {
        if (!_storageKeys.TryGetValue(storage, out string? key))
        {
            key = _storageKeys.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _storageKeys[storage] = key;
        }
        Save(new object?[] { "storage", new StorageClass(storage.TypeName), key, "cpu", storage.ElementCount });
        Op('Q');
    }

    private sealed record StorageClass(string Name);

    private void SaveTuple(object?[] tuple)
    {
        if (tuple.Length == 0)
        {
            Op(')');
            return;
        }
        if (tuple.Length > 3)
            Op('(');
        foreach (object? item in tuple)
            SaveElement(item);
        _out.WriteByte(tuple.Length switch { 1 => 0x85, 2 => 0x86, 3 => 0x87, _ => (byte)'t' });
        Put(tuple);
    }

    private void SaveElement(object? item)
    {
        if (item is StorageClass storageClass)
            SaveGlobal("torch", storageClass.Name);
        else
            Save(item);
    }

    private void SaveAppends(List<object?> list)
    {
        if (list.Count == 1)
        {
            Save(list[0]);
            Op('a');
            return;
        }
        for (int start = 0; start < list.Count; start += BatchSize)
        {
            Op('(');
            foreach (object? item in list.Skip(start).Take(BatchSize))
                Save(item);
            Op('e');
        }
    }

    private void SaveSetItemsExact(List<(object Key, object? Value)> items)
    {
        if (items.Count == 1)
        {
            Save(items[0].Key);
            Save(items[0].Value);
            Op('s');
            return;
        }
        SaveSetItemsGeneric(items);
    }

    private void SaveSetItemsGeneric(List<(object Key, object? Value)> items)
    {
        for (int start = 0; start < items.Count; start += BatchSize)
        {
            var batch = items.Skip(start).Take(BatchSize).ToList();
            if (batch.Count == 1)
            {
                Save(batch[0].Key);
                Save(batch[0].Value);
                Op('s');
                continue;
            }
            Op('(');
            foreach (var (key, value) in batch)
            {
                Save(key);
                Save(value);
            }
            Op('u');
        }
    }

    private void SaveGlobal(string module, string name)
    {
        string id = module + "\n" + name + "\n";
        if (_globals.TryGetValue(id, out int index))
        {
            Get(index);
            return;
        }
        Op('c');
        _out.Write(Encoding.ASCII.GetBytes(id));
        _globals[id] = _nextMemo;
        WritePut(_nextMemo++);
    }

    private void SaveInt(long value)
    {
        if (value is >= 0 and <= 0xFF)
        {
            Op('K');
            _out.WriteByte((byte)value);
        }
        else if (value is >= 0 and <= 0xFFFF)
        {
            Op('M');
            _out.WriteByte((byte)value);
            _out.WriteByte((byte)(value >> 8));
        }
        else if (value is >= int.MinValue and <= int.MaxValue)
        {
            Op('J');
            WriteU32((int)value);
        }
        else
        {
            // LONG1: minimal little-endian two's complement.
            var bytes = new List<byte>();
            long v = value;
            do
            {
                bytes.Add((byte)v);
                v >>= 8;
            } while (!((v == 0 && (bytes[^1] & 0x80) == 0) || (v == -1 && (bytes[^1] & 0x80) != 0)));
            _out.WriteByte(0x8a);
            _out.WriteByte((byte)bytes.Count);
            _out.Write(bytes.ToArray());
        }
    }

    private void Put(object obj)
    {
        _memo[obj] = _nextMemo;
        WritePut(_nextMemo++);
    }

    private void WritePut(int index)
    {
        if (index < 256)
        {
            Op('q');
            _out.WriteByte((byte)index);
        }
        else
        {
            Op('r');
            WriteU32(index);
        }
    }

    private void Get(int index)
    {
        if (index < 256)
        {
            Op('h');
            _out.WriteByte((byte)index);
        }
        else
        {
            Op('j');
            WriteU32(index);
        }
    }

    private void Op(char op) => _out.WriteByte((byte)op);

    private void WriteU32(int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        _out.Write(bytes);
    }
}
