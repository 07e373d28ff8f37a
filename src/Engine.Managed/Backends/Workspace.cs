using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// Named scratch buffers on one backend, reused from call to call: a request returns a view of the buffer of that
/// name, which grows (is reallocated) only when a request needs more bytes than it holds. Views stay valid until
/// the next request of the same name that grows it, or until Dispose.
/// </summary>
public sealed class Workspace : IDisposable
{
    private readonly IBackend _backend;
    private readonly Dictionary<string, Tensor> _buffers = new();

    public Workspace(IBackend backend) => _backend = backend;

    /// <summary>Bytes held by all buffers.</summary>
    public long Bytes => _buffers.Values.Sum(b => b.ByteLength);

    public Tensor Get(string name, DType dtype, params int[] shape) => Get(name, dtype, (ReadOnlySpan<int>)shape);

    public Tensor Get(string name, DType dtype, ReadOnlySpan<int> shape)
    {
        long bytes = checked(Tensor.Elements(shape) * dtype.SizeOf());
        if (!_buffers.TryGetValue(name, out var buffer) || buffer.ByteLength < bytes)
        {
            buffer?.Dispose();
            // Grow by half again so a slowly growing request (a longer prompt each call) does not reallocate every time.
            long capacity = buffer is null ? bytes : Math.Max(bytes, buffer.ByteLength + buffer.ByteLength / 2);
            buffer = _backend.Allocate(DType.U8, [checked((int)Math.Max(capacity, 1))], name);
            _buffers[name] = buffer;
        }
        return new Tensor(_backend, dtype, shape, buffer.Address, owner: null, name);
    }

    public void Dispose()
    {
        foreach (var b in _buffers.Values) b.Dispose();
        _buffers.Clear();
    }
}
