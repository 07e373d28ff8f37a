using System.Buffers;
using System.Runtime.CompilerServices;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>Vector quantization: nearest codebook entry of each latent position, and the way back.</summary>
public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// The dot products z.e come from <see cref="CpuTileKernel"/> tiles of 4 entries x 16 positions (the codebook
    /// packed into panels once per call, each block of positions copied to [C][16]); the distance is formed per
    /// (entry, position) in fp32 in the reference's order, and entries are visited in ascending order with a strict
    /// less-than, so the smallest index wins ties.
    /// </summary>
    public void CodebookArgmin(Tensor z, Tensor codebook, Tensor codes)
    {
        const string op = "CodebookArgmin";
        using var timing = CpuOpProfile.Time(op);
        CheckCodebookTypes(op, z, codebook, codes);
        var (n, c, p, entries) = OpShapes.CodebookArgmin(op, z, codebook, codes);
        if (n * p == 0) return;

        var panels = CpuTileKernel.PackWeight(codebook, entries, c);
        try
        {
            var norms = new float[entries];
            for (int e = 0; e < entries; e++)
            {
                // Entry e is column e % 4 of panel e / 4: stride 4 through the panel.
                int start = e / CpuTileKernel.Rows * c * CpuTileKernel.Rows + e % CpuTileKernel.Rows;
                float sum = 0;
                for (int k = 0; k < c; k++) sum += panels[start + k * CpuTileKernel.Rows] * panels[start + k * CpuTileKernel.Rows];
                norms[e] = sum;
            }
            fixed (float* pp = panels)
            {
                nint pa = (nint)pp, za = z.Address, ca = codes.Address;
                int width = CpuTileKernel.Width, blocks = (p + width - 1) / width;
                CpuParallel.For(n * blocks, 2L * width * entries * c, (first, last) =>
                    ArgminBlocks((float*)za, (float*)pa, norms, (int*)ca, first, last, blocks, c, p));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(panels);
        }
    }

    /// <summary>Items [first, last) = sample * blocks + block of 16 positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ArgminBlocks(float* z, float* panels, float[] norms, int* codes, int first, int last, int blocks, int c, int p)
    {
        int width = CpuTileKernel.Width, rows = CpuTileKernel.Rows, entries = norms.Length;
        var latents = new float[c * width];
        float* tile = stackalloc float[rows * width];
        float* latentNorms = stackalloc float[width];
        float* best = stackalloc float[width];
        int* bestIndex = stackalloc int[width];
        fixed (float* zb = latents)
        {
            for (int item = first; item < last; item++)
            {
                int sample = item / blocks, i0 = item % blocks * width, count = Math.Min(width, p - i0);
                float* zs = z + (long)sample * c * p + i0;
                for (int j = 0; j < width; j++)
                {
                    latentNorms[j] = 0;
                    best[j] = float.PositiveInfinity;
                    bestIndex[j] = 0;
                }
                for (int ch = 0; ch < c; ch++)
                    for (int j = 0; j < width; j++)
                    {
                        float v = j < count ? zs[(long)ch * p + j] : 0f;
                        zb[ch * width + j] = v;
                        latentNorms[j] += v * v;
                    }
                for (int e0 = 0; e0 < entries; e0 += rows)
                {
                    CpuTileKernel.Multiply(zb, panels + (long)e0 * c, c, width, tile);
                    for (int r = 0; r < rows && e0 + r < entries; r++)
                        for (int j = 0; j < count; j++)
                        {
                            // The reference's order: (||z||^2 + ||e||^2) - 2 z.e.
                            float d = latentNorms[j] + norms[e0 + r] - 2f * tile[r * width + j];
                            if (d < best[j])
                            {
                                best[j] = d;
                                bestIndex[j] = e0 + r;
                            }
                        }
                }
                for (int j = 0; j < count; j++) codes[(long)sample * p + i0 + j] = bestIndex[j];
            }
        }
    }

    public void CodebookLookup(Tensor codes, Tensor codebook, Tensor z)
    {
        const string op = "CodebookLookup";
        using var timing = CpuOpProfile.Time(op);
        CheckCodebookTypes(op, z, codebook, codes);
        var (_, c, p, entries) = OpShapes.CodebookLookup(op, codes, codebook, z);
        var ids = I32(codes);
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)entries)
                throw new ArgumentOutOfRangeException(nameof(codes),
                    $"{op}: code {ids[i]} at sample {i / p}, position {i % p} is outside the codebook [0, {entries})");
        var output = F32(z);
        var row = new float[c];
        for (int i = 0; i < ids.Length; i++)
        {
            var entry = WeightRow(codebook, ids[i], c, row);
            int sample = i / p, position = i % p;
            for (int ch = 0; ch < c; ch++) output[(sample * c + ch) * p + position] = entry[ch];
        }
    }

    /// <summary>z F32, codebook BF16 or F32, codes I32 (their shapes: <see cref="OpShapes"/>).</summary>
    private void CheckCodebookTypes(string op, Tensor z, Tensor codebook, Tensor codes)
    {
        OpCheck.Backend(this, op, "z", z);
        OpCheck.Backend(this, op, "codebook", codebook);
        OpCheck.Backend(this, op, "codes", codes);
        OpCheck.DType(op, "z", z, DType.F32);
        CheckWeight(op, "codebook", codebook);
        OpCheck.DType(op, "codes", codes, DType.I32);
    }
}
