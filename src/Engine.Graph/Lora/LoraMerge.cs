using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Lora;

/// <summary>
/// Folds LoRA adapters into a loaded model's weights: W' = W + scale B A for every adapted projection, computed on the
/// model's backend (one GEMM per projection) into a new weight that replaces W. Merged weights are kept in the
/// weight's dtype, except BF16 weights on a backend with F32 activations (the CPU), which become F32 (the CPU's
/// GEMMs write F32): the merge adds no rounding there.
/// </summary>
public static class LoraMerge
{
    public static void Into(ChameleonModel model, LoraAdapter adapter)
    {
        var b = model.Backend;
        adapter.CheckFits(model.Config, "LoRA adapter");
        foreach (var pair in adapter.Pairs)
        {
            var w = model.Weights.Layers[pair.Layer].Of(pair.Projection);
            var dtype = w.DType == DType.BF16 && b.ActivationType == DType.F32 ? DType.F32 : w.DType;
            var merged = b.Allocate(dtype, [pair.Out, pair.In], $"{w.Name}+lora");
            try
            {
                if (dtype == w.DType)
                    b.Copy(w, merged);
                else
                    b.Upload<float>(TensorReader.ReadFloats(b, w), merged);
                // merged += (scale B) A, as the GEMM y += x W^T with x = scale B [out, r] and W = A^T [in, r].
                using var bScaled = b.Allocate(DType.F32, [pair.Out, adapter.Rank], "lora_b_scaled");
                using var aT = b.Allocate(DType.F32, [pair.In, adapter.Rank], "lora_a_t");
                b.Upload<float>(pair.B.Select(v => v * adapter.Scale).ToArray(), bScaled);
                b.Upload<float>(Transpose(pair.A, adapter.Rank, pair.In), aT);
                b.MatMul(bScaled, aT, merged, accumulate: true);
                b.Synchronize();
            }
            catch
            {
                merged.Dispose();
                throw;
            }
            model.Weights.Replace(pair.Layer, pair.Projection, merged);
        }
    }

    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
        return t;
    }
}
