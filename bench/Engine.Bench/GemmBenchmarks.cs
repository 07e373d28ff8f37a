using BenchmarkDotNet.Attributes;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Bench;

/// <summary>
/// The CPU backend's MatMul (fp32 and bf16 weights) and its input gradient (bf16 weights, as training runs it) against
/// OpenBLAS sgemm on the same shapes and threads. GFLOP/s = 2 M N K / time. Shapes: a 7B decode step row
/// (1 x 4096 x 4096), a small batch, a prefill block, and the tiny model's output head over a 256-row loss chunk.
/// </summary>
[MemoryDiagnoser]
public unsafe class GemmBenchmarks
{
    private readonly CpuBackend _cpu = new();
    private Tensor _x = null!, _wF32 = null!, _wBf16 = null!, _y = null!, _dx = null!;

    [Params("1x4096x4096", "16x4096x4096", "256x1024x1024", "256x64x65536")]
    public string Shape { get; set; } = "";

    private (int M, int K, int N) Dims => Shape.Split('x').Select(int.Parse).ToArray() is [var m, var k, var n] ? (m, k, n) : default;

    [GlobalSetup]
    public void Setup()
    {
        if (!OpenBlas.Available(out var reason)) throw new InvalidOperationException(reason);
        var (m, k, n) = Dims;
        var rng = new Random(1);
        float[] Rand(int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        _x = _cpu.Allocate(DType.F32, [m, k]);
        _cpu.Upload<float>(Rand(m * k), _x);
        var w = Rand(n * k);
        _wF32 = _cpu.Allocate(DType.F32, [n, k]);
        _cpu.Upload<float>(w, _wF32);
        _wBf16 = _cpu.Allocate(DType.BF16, [n, k]);
        var bits = new ushort[w.Length];
        BFloat16.FromSingle(w, bits);
        _cpu.Upload<ushort>(bits, _wBf16);
        _y = _cpu.Allocate(DType.F32, [m, n]);
        _cpu.Upload<float>(Rand(m * n), _y);
        _dx = _cpu.Allocate(DType.F32, [m, k]);
    }

    [Benchmark(Baseline = true)]
    public void OpenBlasSgemm()
    {
        var (m, k, n) = Dims;
        OpenBlas.MatMul((float*)_x.Address, (float*)_wF32.Address, (float*)_y.Address, m, k, n);
    }

    [Benchmark]
    public void EngineF32() => _cpu.MatMul(_x, _wF32, _y);

    [Benchmark]
    public void EngineBf16Weights() => _cpu.MatMul(_x, _wBf16, _y);

    /// <summary>dx [M, K] = dy [M, N] W [N, K]: the same multiply-adds as the forward, the backward's layout.</summary>
    [Benchmark]
    public void EngineInputGradBf16Weights() => _cpu.MatMulInputGrad(_y, _wBf16, _dx);

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _wF32.Dispose();
        _wBf16.Dispose();
        _y.Dispose();
        _dx.Dispose();
    }
}
