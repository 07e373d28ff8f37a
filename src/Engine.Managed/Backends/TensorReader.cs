using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>Reads a float tensor of any float dtype back to the host as fp32.</summary>
public static class TensorReader
{
    public static float[] ReadFloats(IBackend backend, Tensor t)
    {
        var result = new float[t.ElementCount];
        switch (t.DType)
        {
            case DType.F32:
                backend.Download<float>(t, result);
                break;
            case DType.BF16:
                var bits = new ushort[t.ElementCount];
                backend.Download<ushort>(t, bits);
                BFloat16.ToSingle(bits, result);
                break;
            case DType.F16:
                var halves = new Half[t.ElementCount];
                backend.Download<Half>(t, halves);
                for (int i = 0; i < result.Length; i++) result[i] = (float)halves[i];
                break;
            default:
                throw new NotSupportedException($"cannot read {t.Describe()} as floats");
        }
        return result;
    }
}
