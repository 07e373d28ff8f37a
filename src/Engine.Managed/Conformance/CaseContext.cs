using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Conformance;

/// <summary>
/// What an op case gets to build its tensors on one backend. Activations are stored in the backend's activation type
/// (host data is rounded to bf16 first when either side stores bf16, so both backends see the same numbers); outputs
/// are poisoned with NaN and surrounded by sentinel guard regions that must survive the op.
/// </summary>
public sealed class CaseContext : IDisposable
{
    /// <summary>Elements of guard before and after every output.</summary>
    public const int GuardElements = 64;

    private const float SentinelF32 = -1.2345678e30f;
    private const int SentinelI32 = unchecked((int)0xDEADBEEF);

    private readonly List<Tensor> _owned = new();
    private readonly List<(string Name, Tensor Buffer, Tensor View)> _outputs = new();

    public CaseContext(IBackend backend, bool roundActivationsToBf16)
    {
        Backend = backend;
        RoundToBf16 = roundActivationsToBf16;
    }

    public IBackend Backend { get; }
    public bool RoundToBf16 { get; }

    public DType Activation => Backend.ActivationType;

    /// <summary>An activation input: F32 on the CPU, the backend's activation type elsewhere.</summary>
    public Tensor Act(float[] data, params int[] shape) => Float(Activation, data, shape);

    /// <summary>A float tensor of an exact dtype (F32 logits, BF16 weights, ...).</summary>
    public Tensor Float(DType dtype, float[] data, params int[] shape)
    {
        var t = Own(Backend.Allocate(dtype, shape));
        Upload(t, data);
        return t;
    }

    public Tensor Ints(int[] data, params int[] shape)
    {
        var t = Own(Backend.Allocate(DType.I32, shape.Length == 0 ? [data.Length] : shape));
        Backend.Upload<int>(data, t);
        return t;
    }

    /// <summary>An output tensor, poisoned with NaN (or a sentinel for ints) and guarded on both sides.</summary>
    public Tensor Output(string name, DType dtype, params int[] shape)
    {
        long n = Tensor.Elements(shape);
        var buffer = Own(Backend.Allocate(dtype, [checked((int)(n + 2 * GuardElements))]));
        if (dtype == DType.I32)
            Backend.Upload<int>(Enumerable.Repeat(SentinelI32, (int)n + 2 * GuardElements).ToArray(), buffer);
        else
        {
            var fill = new float[n + 2 * GuardElements];
            Array.Fill(fill, SentinelF32);
            fill.AsSpan(GuardElements, (int)n).Fill(float.NaN);
            UploadFloats(buffer, fill, round: false);
        }
        var view = buffer.View(shape, GuardElements, name);
        _outputs.Add((name, buffer, view));
        return view;
    }

    /// <summary>
    /// A working buffer that is not compared (a KV cache): float buffers are filled with NaN so an op that reads what
    /// was never written poisons its outputs.
    /// </summary>
    public Tensor Scratch(DType dtype, params int[] shape)
    {
        var t = Own(Backend.Allocate(dtype, shape));
        if (dtype == DType.I32)
            Backend.Upload<int>(new int[t.ElementCount], t);
        else
            UploadFloats(t, Enumerable.Repeat(float.NaN, (int)t.ElementCount).ToArray(), round: false);
        return t;
    }

    /// <summary>An output that the op accumulates into: guarded, but starting from the given values.</summary>
    public Tensor AccumulatorOutput(string name, float[] initial, params int[] shape) =>
        AccumulatorOutput(name, Activation, initial, shape);

    /// <summary>An accumulated output of an exact dtype (an F32 weight gradient).</summary>
    public Tensor AccumulatorOutput(string name, DType dtype, float[] initial, params int[] shape)
    {
        var view = Output(name, dtype, shape);
        Upload(view, initial);
        return view;
    }

    /// <summary>Host data as the backend would store it: rounded to bf16 when that is what either side stores.</summary>
    public float[] Stored(float[] data) => RoundToBf16 ? data.Select(BFloat16.Round).ToArray() : data;

    public float[] ReadFloats(Tensor t)
    {
        var result = new float[t.ElementCount];
        if (t.DType == DType.F32)
            Backend.Download<float>(t, result);
        else if (t.DType == DType.BF16)
        {
            var bits = new ushort[t.ElementCount];
            Backend.Download<ushort>(t, bits);
            BFloat16.ToSingle(bits, result);
        }
        else if (t.DType == DType.I32)
        {
            var ints = new int[t.ElementCount];
            Backend.Download<int>(t, ints);
            for (int i = 0; i < ints.Length; i++) result[i] = ints[i];
        }
        else throw new NotSupportedException($"conformance cannot read {t.Describe()}");
        return result;
    }

    /// <summary>Each output's values, and the guard elements that were overwritten (their indices, negative = before).</summary>
    public IEnumerable<(string Name, float[] Values, IReadOnlyList<long> BrokenGuards)> Results()
    {
        Backend.Synchronize();
        foreach (var (name, buffer, view) in _outputs)
        {
            var all = ReadFloats(buffer);
            var broken = new List<long>();
            float sentinel = buffer.DType == DType.I32 ? SentinelI32 : ReadBack(SentinelF32, buffer.DType);
            for (int i = 0; i < GuardElements; i++)
            {
                if (!Same(all[i], sentinel)) broken.Add(i - GuardElements);
                long after = GuardElements + view.ElementCount + i;
                if (!Same(all[after], sentinel)) broken.Add(view.ElementCount + i);
            }
            yield return (name, all.AsSpan(GuardElements, (int)view.ElementCount).ToArray(), broken);
        }
    }

    private static bool Same(float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);

    private static float ReadBack(float value, DType dtype) => dtype == DType.BF16 ? BFloat16.Round(value) : value;

    private void Upload(Tensor t, float[] data)
    {
        if (data.Length != t.ElementCount)
            throw new ArgumentException($"case data has {data.Length} values for {t.Describe()}");
        UploadFloats(t, data, round: true);
    }

    private void UploadFloats(Tensor t, float[] data, bool round)
    {
        switch (t.DType)
        {
            case DType.F32:
                Backend.Upload<float>(round ? Stored(data) : data, t);
                break;
            case DType.BF16:
                var bits = new ushort[data.Length];
                BFloat16.FromSingle(data, bits);
                Backend.Upload<ushort>(bits, t);
                break;
            default:
                throw new NotSupportedException($"conformance cannot fill {t.Describe()} with floats");
        }
    }

    private Tensor Own(Tensor t)
    {
        _owned.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }
}
