using CoAR.Engine.Managed.Backends;

namespace CoAR.Engine.Managed.Tensors;

/// <summary>
/// A dense, row-major block of elements that lives on one backend: a host address for the CPU backend, a device
/// address for CUDA. A tensor either owns its memory (freed on Dispose) or is a view of memory owned elsewhere
/// (a memory-mapped checkpoint, a workspace, another tensor); disposing a view frees nothing.
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly int[] _shape;
    private IDisposable? _owner;

    internal Tensor(IBackend backend, DType dtype, ReadOnlySpan<int> shape, nint address, IDisposable? owner, string? name = null)
    {
        foreach (int d in shape)
            if (d < 0)
                throw new ArgumentException($"tensor {name ?? "(unnamed)"}: negative dimension in shape [{string.Join(", ", shape.ToArray())}]");
        Backend = backend;
        DType = dtype;
        _shape = shape.ToArray();
        ElementCount = Elements(shape);
        Address = address;
        _owner = owner;
        Name = name;
    }

    public IBackend Backend { get; }
    public DType DType { get; }
    public nint Address { get; }
    public long ElementCount { get; }
    public string? Name { get; }
    public int Rank => _shape.Length;
    public ReadOnlySpan<int> Shape => _shape;
    public long ByteLength => ElementCount * DType.SizeOf();

    public int Dim(int axis) => _shape[axis < 0 ? _shape.Length + axis : axis];

    /// <summary>Elements in one step of dimension 0 (the product of the other dimensions).</summary>
    public long RowElements => _shape.Length == 0 ? 1 : Elements(_shape.AsSpan(1));

    public static long Elements(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape) n = checked(n * d);
        return n;
    }

    /// <summary>A view of the same memory with another shape, starting <paramref name="elementOffset"/> elements in.</summary>
    public Tensor View(ReadOnlySpan<int> shape, long elementOffset = 0, string? name = null)
    {
        long count = Elements(shape);
        if (elementOffset < 0 || elementOffset + count > ElementCount)
            throw new ArgumentOutOfRangeException(nameof(shape),
                $"view of {count} elements at offset {elementOffset} does not fit tensor {Describe()} of {ElementCount} elements");
        return new Tensor(Backend, DType, shape, Address + (nint)(elementOffset * DType.SizeOf()), owner: null, name ?? Name);
    }

    /// <summary>Rows [start, start + count) along dimension 0, as a view.</summary>
    public Tensor Rows(int start, int count)
    {
        if (Rank == 0) throw new InvalidOperationException($"tensor {Describe()} has no rows");
        if (start < 0 || count < 0 || start + count > _shape[0])
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) outside tensor {Describe()}");
        var shape = (int[])_shape.Clone();
        shape[0] = count;
        return View(shape, start * RowElements);
    }

    public string Describe() => $"{Name ?? "(unnamed)"} {DType}[{string.Join(", ", _shape)}]";

    public override string ToString() => Describe();

    public void Dispose()
    {
        var owner = Interlocked.Exchange(ref _owner, null);
        owner?.Dispose();
    }
}
