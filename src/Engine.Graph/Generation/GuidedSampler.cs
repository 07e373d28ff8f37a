using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// Draws each image's next body token from a step's fp32 logits: CFG on the guided images (conditional rows first,
/// the guided images' unconditional rows after them), the layout constraint, top-k, temperature, and a draw keyed by
/// (image seed, body index), so an image's tokens do not depend on the images beside it.
/// </summary>
internal sealed class GuidedSampler(IBackend backend, Workspace work)
{
    /// <param name="images">The step's images, guided ones first, in logit-row order.</param>
    /// <returns>Each image's token, or -1 where its logits left nothing to draw (all -inf or NaN).</returns>
    public int[] Sample(Tensor logits, IReadOnlyList<BatchImage> images)
    {
        int n = images.Count, guided = 0;
        while (guided < n && images[guided].Guided) guided++;
        var cond = logits.Rows(0, n);
        if (guided > 0)
        {
            var scales = work.Get("cfg_scales", DType.F32, guided);
            var cfg = new float[guided];
            for (int i = 0; i < guided; i++) cfg[i] = images[i].Request.Settings.Cfg;
            backend.Upload<float>(cfg, scales);
            var guidedRows = logits.Rows(0, guided);
            backend.CfgCombine(guidedRows, logits.Rows(n, guided), scales, guidedRows);
        }
        var rules = new int[3 * n];
        var topK = new int[n];
        var temperature = new float[n];
        var keys = new int[4 * n];
        for (int i = 0; i < n; i++)
        {
            var image = images[i];
            var settings = image.Request.Settings;
            var (forced, from, to) = image.Request.Layout.RuleFor(image.TokensDone);
            (rules[3 * i], rules[3 * i + 1], rules[3 * i + 2]) = (forced, from, to);
            topK[i] = settings.ImageTopK;
            temperature[i] = settings.Temperature;
            ulong seed = image.Request.Seed;
            (keys[4 * i], keys[4 * i + 1], keys[4 * i + 2], keys[4 * i + 3]) = ((int)(uint)seed, (int)(uint)(seed >> 32), image.TokensDone, 0);
        }
        var rulesT = work.Get("rules", DType.I32, n, 3);
        backend.Upload<int>(rules, rulesT);
        backend.ConstrainLogits(cond, rulesT);
        try
        {
            return Draw(cond, topK, temperature, keys);
        }
        catch (NonFiniteLogitsException)
        {
            // One image's logits hold nothing to draw (the CPU's draw throws for the whole call): find which, row by row.
            var next = new int[n];
            for (int i = 0; i < n; i++)
            {
                try
                {
                    next[i] = Draw(cond.Rows(i, 1), topK[i..(i + 1)], temperature[i..(i + 1)], keys[(4 * i)..(4 * i + 4)])[0];
                }
                catch (NonFiniteLogitsException)
                {
                    next[i] = -1;
                }
            }
            return next;
        }
    }

    private int[] Draw(Tensor logits, int[] topK, float[] temperature, int[] keys)
    {
        int n = topK.Length;
        var topKT = work.Get("top_k", DType.I32, n);
        var tempT = work.Get("temperature", DType.F32, n);
        var keysT = work.Get("rng_keys", DType.I32, n, 4);
        var outT = work.Get("sampled", DType.I32, n);
        backend.Upload<int>(topK, topKT);
        backend.Upload<float>(temperature, tempT);
        backend.Upload<int>(keys, keysT);
        backend.SampleTopK(logits, topKT, tempT, keysT, outT);
        var next = new int[n];
        backend.Download<int>(outT, next);
        return next;
    }
}
