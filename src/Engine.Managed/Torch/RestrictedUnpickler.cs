using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace CoAR.Engine.Managed.Torch;

/// <summary>
/// Reads the pickle in a torch.save archive without running anything: only the opcodes torch.save's pickler emits
/// (protocol 2, plus the protocol 3-4 forms of the same things) and only the globals that rebuild tensors, storages
/// and containers. Any other global (os.system, builtins.eval, ...) or opcode stops the load with an error that names
/// it and its byte offset.
/// </summary>
internal sealed class RestrictedUnpickler
{
    private const int MaxDepth = 10_000;

    /// <summary>
    /// Container entries the whole load may create or copy. A few bytes of pickle can copy a large list again and
    /// again through memo references (a "billion laughs"); a real checkpoint has one entry per tensor and field.
    /// </summary>
    internal const long MaxContainerEntries = 10_000_000;

    private long _entries;

    private readonly byte[] _data;
    private readonly string _source;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private readonly Dictionary<string, TorchStorageRef> _storages = [];
    private int _pos;

    private RestrictedUnpickler(byte[] data, string source)
    {
        _data = data;
        _source = source;
    }

    /// <param name="source">Names the pickle in errors, e.g. "model.ckpt: archive/data.pkl".</param>
    internal static object? Load(byte[] data, string source) => new RestrictedUnpickler(data, source).Run();

    private object? Run()
    {
        while (true)
        {
            if (_pos >= _data.Length)
                throw Error(_pos, "the pickle ends without a STOP opcode (truncated file?)");
            int at = _pos;
            byte op = _data[_pos++];
            switch (op)
            {
                case 0x80: // PROTO
                    int protocol = ReadByte(at);
                    if (protocol > 5)
                        throw Error(at, $"pickle protocol {protocol} is newer than any PyTorch writes");
                    break;
                case 0x95: // FRAME: a length prefix only; the frame's bytes follow inline
                    ReadBytes(8, at);
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0)
                        throw Error(at, $"STOP with {_stack.Count} values and {_marks.Count} open marks on the stack");
                    return _stack[0];

                case (byte)'(': // MARK
                    if (_marks.Count >= MaxDepth)
                        throw Error(at, $"more than {MaxDepth} nested marks");
                    _marks.Push(_stack.Count);
                    break;
                case (byte)'0': // POP
                    Pop(at);
                    break;
                case (byte)'1': // POP_MARK
                    PopMark(at);
                    break;
                case (byte)'2': // DUP
                    Push(Peek(at));
                    break;

                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'K': Push((long)ReadByte(at)); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2, at))); break; // BININT2
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4, at))); break; // BININT
                case 0x8a: Push(ReadLong(ReadByte(at), at)); break; // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8, at))); break; // BINFLOAT

                case (byte)'X': Push(ReadUtf8(ReadLength(4, at), at)); break; // BINUNICODE
                case 0x8c: Push(ReadUtf8(ReadByte(at), at)); break; // SHORT_BINUNICODE
                case 0x8d: Push(ReadUtf8(ReadLength(8, at), at)); break; // BINUNICODE8
                case (byte)'U': Push(ReadUtf8(ReadByte(at), at)); break; // SHORT_BINSTRING (py2 str, read as UTF-8 like torch.load)
                case (byte)'T': Push(ReadUtf8(ReadLength(4, at), at)); break; // BINSTRING
                case (byte)'C': Push(ReadBytes(ReadByte(at), at).ToArray()); break; // SHORT_BINBYTES
                case (byte)'B': Push(ReadBytes(ReadLength(4, at), at).ToArray()); break; // BINBYTES
                case 0x8e: Push(ReadBytes(ReadLength(8, at), at).ToArray()); break; // BINBYTES8

                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case 0x85: Push(PopTuple(1, at)); break; // TUPLE1
                case 0x86: Push(PopTuple(2, at)); break; // TUPLE2
                case 0x87: Push(PopTuple(3, at)); break; // TUPLE3
                case (byte)'t': Push(PopMark(at).ToArray()); break; // TUPLE
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)'l': Push(PopMark(at)); break; // LIST
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)'d': Push(DictFrom(PopMark(at), at)); break; // DICT
                case 0x8f: Push(new List<object?>()); break; // EMPTY_SET
                case 0x91: Push(PopMark(at)); break; // FROZENSET

                case (byte)'a': // APPEND
                {
                    object? item = Pop(at);
                    PeekList(at, "APPEND").Add(item);
                    break;
                }
                case (byte)'e': // APPENDS
                case 0x90: // ADDITEMS
                {
                    List<object?> items = PopMark(at);
                    Spend(items.Count, at);
                    PeekList(at, op == 0x90 ? "ADDITEMS" : "APPENDS").AddRange(items);
                    break;
                }
                case (byte)'s': // SETITEM
                {
                    object? value = Pop(at);
                    object? key = Pop(at);
                    PeekDict(at, "SETITEM").Set(key, value);
                    break;
                }
                case (byte)'u': // SETITEMS
                {
                    List<object?> items = PopMark(at);
                    PickleDict dict = PeekDict(at, "SETITEMS");
                    if (items.Count % 2 != 0)
                        throw Error(at, "SETITEMS with an odd number of keys and values");
                    Spend(items.Count, at);
                    for (int i = 0; i < items.Count; i += 2)
                        dict.Set(items[i], items[i + 1]);
                    break;
                }

                case (byte)'q': Memoize(ReadByte(at), at); break; // BINPUT
                case (byte)'r': Memoize(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, at)), at); break; // LONG_BINPUT
                case 0x94: Memoize(_memo.Count, at); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte(at), at)); break; // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, at)), at)); break; // LONG_BINGET

                case (byte)'c': // GLOBAL
                {
                    string module = ReadLine(at);
                    string name = ReadLine(at);
                    Push(ResolveGlobal(module, name, at));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    object? name = Pop(at);
                    object? module = Pop(at);
                    if (module is not string m || name is not string n)
                        throw Error(at, "STACK_GLOBAL needs two strings on the stack");
                    Push(ResolveGlobal(m, n, at));
                    break;
                }
                case (byte)'R': // REDUCE
                {
                    object? args = Pop(at);
                    object? callable = Pop(at);
                    Push(Reduce(callable, args, at));
                    break;
                }
                case (byte)'b': // BUILD
                {
                    Pop(at);
                    object? target = Peek(at);
                    // Only an OrderedDict gets state from torch.save (state_dict()._metadata): version numbers, dropped.
                    if (target is not PickleDict)
                        throw Error(at, $"BUILD on {Describe(target)} is not allowed (only OrderedDict state)");
                    break;
                }
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop(at), at));
                    break;

                default:
                    throw Error(at, $"opcode 0x{op:x2} ({OpcodeName(op)}) is not allowed in a torch.save checkpoint");
            }
        }
    }

    private object ResolveGlobal(string module, string name, int at)
    {
        PickleGlobalKind? kind = (module, name) switch
        {
            ("torch._utils", "_rebuild_tensor_v2") => PickleGlobalKind.RebuildTensorV2,
            ("torch._utils", "_rebuild_parameter") => PickleGlobalKind.RebuildParameter,
            ("torch._utils", "_rebuild_parameter_with_state") => PickleGlobalKind.RebuildParameterWithState,
            ("collections", "OrderedDict") => PickleGlobalKind.OrderedDict,
            ("builtins" or "__builtin__", "set" or "frozenset") => PickleGlobalKind.Set,
            _ => null,
        };
        if (kind is { } k)
            return new PickleGlobal(module, name, k);
        if (module == "torch" && TorchStorageTypes.LooksLikeStorage(name))
        {
            if (TorchStorageTypes.TryGet(name, out var dtype))
                return new PickleGlobal(module, name, PickleGlobalKind.StorageType, dtype);
            throw Error(at, $"storage type torch.{name} is not supported (float, bfloat16, half, integer and bool only)");
        }
        throw Error(at, $"refused global {module}.{name}: a checkpoint may only hold tensors, storages and containers");
    }

    private object Reduce(object? callable, object? args, int at)
    {
        if (callable is not PickleGlobal function)
            throw Error(at, $"REDUCE on {Describe(callable)}, which is not an allowed callable");
        if (args is not object?[] a)
            throw Error(at, $"REDUCE of {function} with {Describe(args)} instead of an argument tuple");
        switch (function.Kind)
        {
            case PickleGlobalKind.RebuildTensorV2:
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (a.Length is < 6 or > 7 || a[0] is not TorchStorageRef storage)
                    throw Error(at, $"{function} expects (storage, offset, size, stride, requires_grad, hooks), got {Describe(args)}");
                long[] shape = IntTuple(a[2], at, "size");
                long[] stride = IntTuple(a[3], at, "stride");
                if (shape.Length != stride.Length)
                    throw Error(at, $"tensor size has {shape.Length} dims but stride has {stride.Length}");
                return new TorchTensorRef(storage, Int(a[1], at, "storage offset"), shape, stride);
            case PickleGlobalKind.RebuildParameter or PickleGlobalKind.RebuildParameterWithState:
                if (a.Length < 3 || a[0] is not TorchTensorRef tensor)
                    throw Error(at, $"{function} expects (tensor, requires_grad, hooks, ...), got {Describe(args)}");
                return tensor;
            case PickleGlobalKind.OrderedDict:
                if (a.Length == 0)
                    return new PickleDict();
                if (a.Length == 1 && a[0] is List<object?> pairs && Spend(pairs.Count, at))
                    return DictFrom(pairs.SelectMany(p => p is object?[] { Length: 2 } kv ? kv : throw Error(at,
                        $"OrderedDict item {Describe(p)} is not a (key, value) pair")).ToList(), at);
                throw Error(at, $"OrderedDict called with {Describe(args)}");
            case PickleGlobalKind.Set:
                if (a.Length == 0)
                    return new List<object?>();
                if (a.Length == 1 && a[0] is List<object?> items && Spend(items.Count, at))
                    return new List<object?>(items);
                throw Error(at, $"{function} called with {Describe(args)}");
            default:
                throw Error(at, $"{function} is not callable");
        }
    }

    // torch.save's persistent id: ('storage', storage_type, key, location, numel).
    private TorchStorageRef PersistentLoad(object? pid, int at)
    {
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage")
            throw Error(at, $"persistent id {Describe(pid)} is not a ('storage', type, key, location, numel) tuple");
        if (t[1] is not PickleGlobal { Kind: PickleGlobalKind.StorageType } type)
            throw Error(at, $"persistent id names {Describe(t[1])} instead of a storage type");
        if (t[2] is not string key || t[3] is not string location)
            throw Error(at, "persistent id key and location must be strings");
        long numel = Int(t[4], at, "storage size");
        if (numel < 0)
            throw Error(at, $"storage {key} has a negative size {numel}");
        if (_storages.TryGetValue(key, out var known))
        {
            if (known.DType != type.StorageDType || known.ElementCount != numel)
                throw Error(at, $"storage {key} is used as {type.StorageDType}[{numel}] and as {known.DType}[{known.ElementCount}]");
            return known;
        }
        var storage = new TorchStorageRef(key, type.StorageDType, numel, location);
        _storages[key] = storage;
        return storage;
    }

    /// <summary>Counts <paramref name="count"/> container entries against <see cref="MaxContainerEntries"/>; true to chain in conditions.</summary>
    private bool Spend(long count, int at)
    {
        _entries += count;
        if (_entries > MaxContainerEntries)
            throw Error(at, $"the pickle builds more than {MaxContainerEntries} container entries (a pickle bomb?); a checkpoint needs one per tensor");
        return true;
    }

    private PickleDict DictFrom(List<object?> items, int at)
    {
        if (items.Count % 2 != 0)
            throw Error(at, "a dict needs as many values as keys");
        Spend(items.Count, at);
        var dict = new PickleDict();
        for (int i = 0; i < items.Count; i += 2)
            dict.Set(items[i], items[i + 1]);
        return dict;
    }

    private long[] IntTuple(object? value, int at, string what)
    {
        if (value is not object?[] items)
            throw Error(at, $"tensor {what} is {Describe(value)}, expected a tuple of ints");
        var result = new long[items.Length];
        for (int i = 0; i < items.Length; i++)
            result[i] = Int(items[i], at, what);
        return result;
    }

    private long Int(object? value, int at, string what) =>
        value as long? ?? throw Error(at, $"{what} is {Describe(value)}, expected an int");

    private void Push(object? value) => _stack.Add(value);

    private object? Pop(int at)
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks.Peek() == _stack.Count))
            throw Error(at, "stack underflow");
        object? value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private object? Peek(int at)
    {
        if (_stack.Count == 0)
            throw Error(at, "stack underflow");
        return _stack[^1];
    }

    private List<object?> PopMark(int at)
    {
        if (_marks.Count == 0)
            throw Error(at, "no MARK to pop to");
        int start = _marks.Pop();
        var items = _stack.GetRange(start, _stack.Count - start);
        _stack.RemoveRange(start, _stack.Count - start);
        return items;
    }

    private object?[] PopTuple(int count, int at)
    {
        var items = new object?[count];
        for (int i = count - 1; i >= 0; i--)
            items[i] = Pop(at);
        return items;
    }

    private List<object?> PeekList(int at, string opcode) =>
        Peek(at) as List<object?> ?? throw Error(at, $"{opcode} on {Describe(Peek(at))}, not a list or set");

    private PickleDict PeekDict(int at, string opcode) =>
        Peek(at) as PickleDict ?? throw Error(at, $"{opcode} on {Describe(Peek(at))}, not a dict");

    private void Memoize(long index, int at) => _memo[index] = Peek(at);

    private object? Recall(long index, int at) =>
        _memo.TryGetValue(index, out var value) ? value : throw Error(at, $"memo entry {index} was never stored");

    private int ReadByte(int at) => ReadBytes(1, at)[0];

    private ReadOnlySpan<byte> ReadBytes(long count, int at)
    {
        if (count < 0 || count > _data.Length - _pos)
            throw Error(at, $"needs {count} more bytes but only {_data.Length - _pos} remain (truncated file?)");
        var span = _data.AsSpan(_pos, (int)count);
        _pos += (int)count;
        return span;
    }

    private long ReadLength(int width, int at)
    {
        ReadOnlySpan<byte> bytes = ReadBytes(width, at);
        return width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(bytes) : (long)Math.Min(
            BinaryPrimitives.ReadUInt64LittleEndian(bytes), long.MaxValue);
    }

    private string ReadUtf8(long length, int at) => Encoding.UTF8.GetString(ReadBytes(length, at));

    private string ReadLine(int at)
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0)
            throw Error(at, "GLOBAL name is not terminated by a newline");
        string line = Encoding.UTF8.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return line;
    }

    // LONG1: little-endian two's complement of n bytes.
    private object ReadLong(int length, int at)
    {
        ReadOnlySpan<byte> bytes = ReadBytes(length, at);
        if (length == 0)
            return 0L;
        if (length > 8)
            return new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        long value = (sbyte)bytes[length - 1]; // sign-extends the top byte
        for (int i = length - 2; i >= 0; i--)
            value = (value << 8) | bytes[i];
        return value;
    }

    private InvalidDataException Error(int offset, string message) => new($"{_source} byte {offset}: {message}");

    internal static string Describe(object? value) => value switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        long l => $"int {l}",
        BigInteger => "a large int",
        double d => $"float {d}",
        string s => s.Length <= 40 ? $"str '{s}'" : $"str '{s[..40]}...'",
        byte[] bytes => $"bytes ({bytes.Length})",
        object?[] tuple => $"tuple of {tuple.Length}",
        List<object?> list => $"list of {list.Count}",
        PickleDict dict => $"dict of {dict.Entries.Count}",
        PickleGlobal g => $"global {g}",
        TorchStorageRef s => $"storage {s.Key}",
        TorchTensorRef t => $"tensor {t.Storage.DType}[{string.Join(",", t.Shape)}]",
        _ => value.GetType().Name,
    };

    private static string OpcodeName(byte op) => op switch
    {
        (byte)'i' => "INST",
        (byte)'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        (byte)'P' => "PERSID",
        (byte)'I' => "INT",
        (byte)'L' => "LONG",
        (byte)'F' => "FLOAT",
        (byte)'S' => "STRING",
        (byte)'V' => "UNICODE",
        (byte)'g' => "GET",
        (byte)'p' => "PUT",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x8b => "LONG4",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown",
    };
}
