using BenchmarkDotNet.Attributes;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Bench;

/// <summary>CPU attention: a decode step (one query per row over a long cache) and a prefill block.</summary>
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private readonly CpuBackend _cpu = new();
    private KvLayer _cache = null!;
    private TokenMap _decode = null!, _prefill = null!;
    private Tensor _qDecode = null!, _qPrefill = null!, _outDecode = null!, _outPrefill = null!;

    [Params(1024, 2400)]
    public int Context { get; set; }

    private const int Rows = 2, Heads = 32, HeadDim = 128, PrefillTokens = 128;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(2);
        Tensor Rand(params int[] shape)
        {
            var t = _cpu.Allocate(DType.F32, shape);
            _cpu.Upload<float>(Enumerable.Range(0, (int)t.ElementCount).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray(), t);
            return t;
        }
        Tensor Ints(int[] v)
        {
            var t = _cpu.Allocate(DType.I32, [v.Length]);
            _cpu.Upload<int>(v, t);
            return t;
        }
        var tags = _cpu.Allocate(DType.I32, [Rows, Context + 1]);
        _cpu.Upload<int>(new int[Rows * (Context + 1)], tags);
        _cache = new KvLayer(Rand(Rows, Heads, Context + 1, HeadDim), Rand(Rows, Heads, Context + 1, HeadDim), tags);
        _decode = new TokenMap(Ints([0, 1]), Ints([Context, Context]), Ints([0, 0]));
        _prefill = new TokenMap(Ints(new int[PrefillTokens]), Ints(Enumerable.Range(0, PrefillTokens).ToArray()), Ints(new int[PrefillTokens]));
        _qDecode = Rand(Rows, Heads, HeadDim);
        _qPrefill = Rand(PrefillTokens, Heads, HeadDim);
        _outDecode = _cpu.Allocate(DType.F32, [Rows, Heads, HeadDim]);
        _outPrefill = _cpu.Allocate(DType.F32, [PrefillTokens, Heads, HeadDim]);
    }

    [Benchmark]
    public void DecodeStep() => _cpu.Attention(_qDecode, _cache, _decode, 1f / MathF.Sqrt(HeadDim), _outDecode);

    [Benchmark]
    public void Prefill128() => _cpu.Attention(_qPrefill, _cache, _prefill, 1f / MathF.Sqrt(HeadDim), _outPrefill);
}
