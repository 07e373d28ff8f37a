using System.Diagnostics;
using System.Text;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;

namespace CoAR.Engine.Native;

/// <summary>
/// The engine's progress reports turned into the C callbacks of coar.h, called synchronously on the reporting
/// thread (IProgress's usual Progress&lt;T&gt; would post them to the thread pool). A nonzero return stops the call.
/// </summary>
internal sealed unsafe class LoadProgressCallback(delegate* unmanaged[Cdecl]<NativeProgress*, void*, int> callback, void* userData,
    CallCancellation cancellation) : IProgress<ModelLoadProgress>
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public void Report(ModelLoadProgress value)
    {
        var name = new byte[Encoding.UTF8.GetByteCount(value.Current) + 1];
        Encoding.UTF8.GetBytes(value.Current, name);
        fixed (byte* item = name)
        {
            var p = new NativeProgress
            {
                Phase = 0, Step = value.TensorsDone, Steps = value.TensorsTotal, Done = value.BytesDone, Total = value.BytesTotal,
                ElapsedSeconds = _clock.Elapsed.TotalSeconds, Item = item,
            };
            if (callback(&p, userData) != 0) cancellation.StopFromCallback("progress");
        }
    }
}

internal sealed unsafe class GenerateProgressCallback(delegate* unmanaged[Cdecl]<NativeProgress*, void*, int> callback, void* userData,
    CallCancellation cancellation) : IProgress<GenerationProgress>
{
    public void Report(GenerationProgress value)
    {
        var p = new NativeProgress
        {
            Phase = 1, Step = value.Step, Steps = value.Steps, Done = value.TokensDone, Total = value.TokensTotal,
            ElapsedSeconds = value.Elapsed.TotalSeconds,
        };
        if (callback(&p, userData) != 0) cancellation.StopFromCallback("progress");
    }
}

internal sealed unsafe class TrainStepCallback(delegate* unmanaged[Cdecl]<NativeTrainStep*, void*, int> callback, void* userData,
    CallCancellation cancellation) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value)
    {
        var s = new NativeTrainStep
        {
            Step = value.Step, Steps = value.Steps, Loss = value.Losses.Total, NtpLoss = value.Losses.Ntp, DppLoss = value.Losses.Dpp,
            CasrLoss = value.Losses.Casr, LearningRate = value.LearningRate, StepSeconds = value.StepTime.TotalSeconds,
        };
        if (callback(&s, userData) != 0) cancellation.StopFromCallback("on_step");
    }
}
