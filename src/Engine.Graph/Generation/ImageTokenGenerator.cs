using System.Diagnostics;
using System.Runtime.ExceptionServices;
using CoAR.Engine.Graph.Model;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// Generates image tokens for a set of images together: a <see cref="ContinuousBatch"/> sized for exactly these
/// images, all joining at the first step. Each image has a conditional row (its prompt, then the image) and, when
/// guided, an unconditional row ([start, h, w, ...] from position 0, no BOS, no prompt) fed the same image tokens.
/// Guided and unguided images, and images of different sizes, run together; an image leaves the forward once its
/// last token is drawn. For requests that arrive over time, use <see cref="GenerationScheduler"/>.
/// </summary>
public sealed class ImageTokenGenerator(ChameleonModel model)
{
    public IReadOnlyList<ImageTokenResult> Generate(IReadOnlyList<ImageTokenRequest> requests,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellation = default)
    {
        if (requests.Count == 0) return [];
        foreach (var r in requests) r.Settings.Validate();
        int rows = requests.Sum(r => r.Rows);
        using var batch = new ContinuousBatch(model, rows, requests.Max(r => r.Positions), Math.Max(rows, requests.Sum(r => r.PrefillTokens)));
        var images = requests.Select(batch.Admit).ToList();
        int steps = requests.Max(r => r.Layout.BodyLength);
        long total = requests.Sum(r => (long)r.Layout.BodyLength), done = 0;
        var clock = Stopwatch.StartNew();
        for (int step = 1; batch.Images.Count > 0; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            var outcome = batch.Step();
            if (outcome.Failed.Count > 0)
                ExceptionDispatchInfo.Throw(outcome.Failed[0].Error);
            done += outcome.Drawn;
            progress?.Report(new GenerationProgress(step, steps, done, total, clock.Elapsed));
        }
        return images.Select(i => i.Result!).ToList();
    }
}
