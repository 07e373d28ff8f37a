using System.Diagnostics;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Conformance;

namespace CoAR.Engine.Managed.Backends.SelfTest;

/// <summary>
/// Proves a device on this machine before `--device auto` trusts it: its kernels compile and load, and a few
/// conformance cases covering GEMM (GEMV and tensor cores), the embedding, RMSNorm, attention (prefill and decode),
/// guidance and top-k sampling match the CPU backend. The cases and their thresholds are the conformance suite's own
/// (<see cref="CoreCases"/>), judged by its runner, so a device that passes the suite passes this. Seconds on a GPU.
/// </summary>
public static class DeviceSelfTest
{
    public static IReadOnlyList<OpCase> Cases { get; } =
    [
        CoreCases.MatMul(1, 64, 33),
        CoreCases.MatMul(64, 128, 256),
        CoreCases.Embedding(1000, 72, 9),
        CoreCases.RmsNorm(5, 257),
        CoreCases.AttentionPrefill([3, 11, 1], 8, 2, 64, tagged: true),
        CoreCases.AttentionDecode(1, 300, 4, 64),
        CoreCases.CfgCombine(),
        CoreCases.SampleTopK(),
    ];

    /// <summary>
    /// Runs the checks on <paramref name="device"/>: first <paramref name="prepareKernels"/> (one check per kernel
    /// file compiled and loaded), then every case against a fresh CPU backend. Never throws for a failing device:
    /// a failure is a check that did not pass.
    /// </summary>
    public static SelfTestResult Run(DeviceIdentity identity, IBackend device, Func<IReadOnlyList<SelfTestCheck>> prepareKernels)
    {
        var ranAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var checks = new List<SelfTestCheck>();
        try
        {
            checks.AddRange(prepareKernels());
        }
        catch (Exception e)
        {
            checks.Add(new SelfTestCheck("kernels", false, $"threw {e.GetType().Name}: {e.Message}"));
        }
        using var reference = new CpuBackend();
        foreach (var c in Cases)
        {
            var result = ConformanceRunner.Run(c, device, reference);
            checks.Add(new SelfTestCheck(result.Name, result.Passed, result.Detail));
        }
        return new SelfTestResult(identity, ranAt, clock.Elapsed.TotalSeconds, checks);
    }
}
