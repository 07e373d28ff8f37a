using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace CoAR.Engine.Bench;

/// <summary>
/// BenchmarkDotNet for the CPU ops: `dotnet run -c Release --project bench/Engine.Bench -- --filter '*Gemm*'`.
/// Benchmarks run in process (the project's file name differs from its assembly name, which BenchmarkDotNet's
/// out-of-process build needs to match); the engine's CLI runs with full JIT, and so do these.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        var config = DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance)
            .WithEnvironmentVariable("DOTNET_TieredCompilation", "0"));
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
