using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// The backbone weights a run trains (<see cref="TrainingSettings.Weights"/>): their values on the host in the
/// optimizer's layout, the <see cref="IProjectionAdapter"/> the model runs them with, their gradients, and their
/// output files. LoRA adapters (<see cref="Lora"/>) or full fine-tuning's weight changes (<see cref="Full"/>).
/// </summary>
public abstract class TrainedWeights : IDisposable
{
    public abstract long Parameters { get; }

    /// <summary>Set as the model's <see cref="ChameleonModel.Adapter"/> while training.</summary>
    public abstract IProjectionAdapter Device { get; }

    /// <summary>The values, laid out for the optimizer.</summary>
    public abstract void CopyTo(Span<float> destination);

    /// <summary>Takes new values (after an optimizer step or a resume) and puts them on the device.</summary>
    public abstract void SetValues(ReadOnlySpan<float> values);

    public abstract void ZeroGradients();

    /// <summary>The gradients accumulated since <see cref="ZeroGradients"/>, in <see cref="CopyTo"/>'s layout.</summary>
    public abstract void DownloadGradients(Span<float> destination);

    /// <summary>
    /// Writes the trained weights into <paramref name="directory"/>: PEFT's adapter files, or
    /// <see cref="FineTunedProjections.FileName"/> (the fine-tuned weights, read back from <paramref name="model"/>'s base weights).
    /// </summary>
    public abstract void Save(string directory, ChameleonModel model, string baseModel, IReadOnlyDictionary<string, string> record);

    /// <summary>What a <see cref="Save"/> writes into its directory, to say so.</summary>
    public abstract string Describe();

    public abstract void Dispose();

    /// <summary>Fresh trainable weights for <paramref name="s"/> on every layer of the model: LoRA as PEFT starts it (B = 0), or zero changes.</summary>
    public static TrainedWeights Create(ChameleonModel model, TrainingSettings s) => s.Weights switch
    {
        WeightTraining.Lora => new Lora(model, LoraAdapter.Create(model.Config, s.EffectiveLoraRank, s.LoraAlpha ?? s.EffectiveLoraRank, s.LoraProjections,
            Enumerable.Range(0, model.Config.NumLayers), s.Seed)),
        WeightTraining.Full => new Full(model, WeightDeltas.Create(model.Config, s.LoraProjections, Enumerable.Range(0, model.Config.NumLayers))),
        _ => throw new ArgumentException($"{s.Method} trains no backbone weights", nameof(s)),
    };

    public sealed class Lora : TrainedWeights
    {
        private readonly LoraProjections _device;

        public Lora(ChameleonModel model, LoraAdapter adapter)
        {
            Adapter = adapter;
            _device = new LoraProjections(model.Backend, [adapter], trainable: true);
        }

        public LoraAdapter Adapter { get; }
        public override long Parameters => Adapter.Parameters;
        public override IProjectionAdapter Device => _device;
        public override void CopyTo(Span<float> destination) => Adapter.CopyTo(destination);

        public override void SetValues(ReadOnlySpan<float> values)
        {
            Adapter.CopyFrom(values);
            _device.Upload();
        }

        public override void ZeroGradients() => _device.ZeroGradients();
        public override void DownloadGradients(Span<float> destination) => _device.DownloadGradients(destination);

        public override void Save(string directory, ChameleonModel model, string baseModel, IReadOnlyDictionary<string, string> record) =>
            PeftAdapterFile.Save(directory, Adapter, baseModel, record);

        public override string Describe() => $"LoRA adapter, PEFT layout ({PeftAdapterFile.WeightsFileName} + {PeftAdapterFile.ConfigFileName})";
        public override void Dispose() => _device.Dispose();
    }

    public sealed class Full : TrainedWeights
    {
        private readonly DeltaProjections _device;

        public Full(ChameleonModel model, WeightDeltas deltas)
        {
            Deltas = deltas;
            _device = new DeltaProjections(model.Backend, deltas, trainable: true);
        }

        public WeightDeltas Deltas { get; }
        public override long Parameters => Deltas.Parameters;
        public override IProjectionAdapter Device => _device;
        public override void CopyTo(Span<float> destination) => Deltas.CopyTo(destination);

        public override void SetValues(ReadOnlySpan<float> values)
        {
            Deltas.CopyFrom(values);
            _device.Upload();
        }

        public override void ZeroGradients() => _device.ZeroGradients();
        public override void DownloadGradients(Span<float> destination) => _device.DownloadGradients(destination);

        public override void Save(string directory, ChameleonModel model, string baseModel, IReadOnlyDictionary<string, string> record)
        {
            Directory.CreateDirectory(directory);
            FineTunedProjections.Save(Path.Combine(directory, FineTunedProjections.FileName), Deltas, model, baseModel, record);
        }

        public override string Describe() => $"fine-tuned weights ({FineTunedProjections.FileName}, the checkpoint's tensor names, F32)";
        public override void Dispose() => _device.Dispose();
    }
}
