using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Backends.SelfTest;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Tests.SelfTest;

/// <summary>
/// A test double of a GPU for the device-choice logic, which does not care what the device is: the CPU backend under
/// a GPU's name, optionally with a planted fault (MatMul adds into its output instead of overwriting it, as a flag
/// passed wrong would). It counts what the factory does with it.
/// </summary>
internal sealed class GpuDouble(bool faulty) : IBackend
{
    private readonly CpuBackend _cpu = new();

    public bool Disposed { get; private set; }

    public string Name => "cuda:0 Test Double GPU";
    public BackendKind Kind => BackendKind.Cuda;
    public DType ActivationType => _cpu.ActivationType;
    public double? PeakBandwidthBytesPerSecond => null;

    public void MatMul(Tensor x, Tensor w, Tensor y, bool accumulate = false) => _cpu.MatMul(x, w, y, accumulate || faulty);

    public Tensor Allocate(DType dtype, ReadOnlySpan<int> shape, string? name = null) => _cpu.Allocate(dtype, shape, name);
    public Tensor LoadWeight(nint hostData, DType dtype, ReadOnlySpan<int> shape, string name) => _cpu.LoadWeight(hostData, dtype, shape, name);
    public void Upload<T>(ReadOnlySpan<T> source, Tensor destination) where T : unmanaged => _cpu.Upload(source, destination);
    public void Download<T>(Tensor source, Span<T> destination) where T : unmanaged => _cpu.Download(source, destination);
    public void Copy(Tensor source, Tensor destination) => _cpu.Copy(source, destination);
    public void Synchronize() => _cpu.Synchronize();
    public (long Free, long Total) MemoryInfo() => _cpu.MemoryInfo();
    public void Embedding(Tensor table, Tensor ids, Tensor output) => _cpu.Embedding(table, ids, output);
    public void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y) => _cpu.RmsNorm(x, weight, eps, y);
    public void HeadLayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y) => _cpu.HeadLayerNorm(x, gamma, beta, eps, y);
    public void Rope(Tensor x, Tensor positions, float theta, Tensor y) => _cpu.Rope(x, positions, theta, y);
    public void KvStore(Tensor keys, Tensor values, TokenMap tokens, KvLayer cache) => _cpu.KvStore(keys, values, tokens, cache);
    public void Attention(Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output, Tensor? logSumExp = null) =>
        _cpu.Attention(q, cache, tokens, scale, output, logSumExp);
    public void SwiGlu(Tensor gate, Tensor up, Tensor output) => _cpu.SwiGlu(gate, up, output);
    public void Add(Tensor a, Tensor b, Tensor y) => _cpu.Add(a, b, y);
    public void GatherRows(Tensor x, Tensor indices, Tensor output) => _cpu.GatherRows(x, indices, output);
    public void CfgCombine(Tensor cond, Tensor uncond, Tensor scales, Tensor output) => _cpu.CfgCombine(cond, uncond, scales, output);
    public void ConstrainLogits(Tensor logits, Tensor rules) => _cpu.ConstrainLogits(logits, rules);
    public void SampleTopK(Tensor logits, Tensor topK, Tensor temperature, Tensor rngKeys, Tensor output) =>
        _cpu.SampleTopK(logits, topK, temperature, rngKeys, output);
    public void MatMulInputGrad(Tensor dy, Tensor w, Tensor dx, bool accumulate = false) => _cpu.MatMulInputGrad(dy, w, dx, accumulate);
    public void WeightGradient(Tensor dy, Tensor x, Tensor dw, bool accumulate = false) => _cpu.WeightGradient(dy, x, dw, accumulate);
    public void RmsNormBackward(Tensor x, Tensor weight, float eps, Tensor dy, Tensor dx, bool accumulate = false) =>
        _cpu.RmsNormBackward(x, weight, eps, dy, dx, accumulate);
    public void HeadLayerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx) => _cpu.HeadLayerNormBackward(x, gamma, eps, dy, dx);
    public void RopeBackward(Tensor dy, Tensor positions, float theta, Tensor dx) => _cpu.RopeBackward(dy, positions, theta, dx);
    public void AttentionBackward(Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output, Tensor logSumExp, Tensor dOutput,
        Tensor dq, Tensor dKeys, Tensor dValues) => _cpu.AttentionBackward(q, cache, tokens, scale, output, logSumExp, dOutput, dq, dKeys, dValues);
    public void KvGather(Tensor dKeys, Tensor dValues, TokenMap tokens, Tensor dk, Tensor dv, bool accumulate = false) =>
        _cpu.KvGather(dKeys, dValues, tokens, dk, dv, accumulate);
    public void SwiGluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp) => _cpu.SwiGluBackward(gate, up, dOut, dGate, dUp);
    public void ScatterRows(Tensor source, Tensor indices, Tensor destination) => _cpu.ScatterRows(source, indices, destination);
    public void ScatterAddRows(Tensor source, Tensor indices, Tensor destination) => _cpu.ScatterAddRows(source, indices, destination);
    public void ZeroRows(Tensor indices, Tensor destination) => _cpu.ZeroRows(indices, destination);
    public void Zero(Tensor t) => _cpu.Zero(t);
    public void SoftmaxCrossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, float gradScale, float zLossScale = 0f,
        Tensor? logSumExp = null) =>
        _cpu.SoftmaxCrossEntropy(logits, targets, losses, dLogits, gradScale, zLossScale, logSumExp);
    public void KlDivergence(Tensor reference, Tensor logits, Tensor losses, Tensor dLogits, float gradScale) =>
        _cpu.KlDivergence(reference, logits, losses, dLogits, gradScale);
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dGeometry geometry, Tensor y) => _cpu.Conv2d(x, weight, bias, geometry, y);
    public void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool swish, Tensor y) =>
        _cpu.GroupNorm(x, gamma, beta, groups, eps, swish, y);
    public void Upsample2x(Tensor x, Tensor y) => _cpu.Upsample2x(x, y);
    public void SpatialAttention(Tensor q, Tensor k, Tensor v, Tensor y) => _cpu.SpatialAttention(q, k, v, y);
    public void CodebookArgmin(Tensor z, Tensor codebook, Tensor codes) => _cpu.CodebookArgmin(z, codebook, codes);
    public void CodebookLookup(Tensor codes, Tensor codebook, Tensor z) => _cpu.CodebookLookup(codes, codebook, z);

    public void Dispose()
    {
        Disposed = true;
        _cpu.Dispose();
    }
}

/// <summary>The devices BackendFactory sees in these tests: one <see cref="GpuDouble"/> with the identity the test gives.</summary>
internal sealed class GpuDoubleDevices(bool faulty, DeviceIdentity identity, string? unavailable = null, string? notAGpu = null) : IGpuDevices
{
    public string? NotAGpu => notAGpu;

    public List<GpuDouble> Opened { get; } = [];

    /// <summary>How many self-tests ran (each builds the kernels first).</summary>
    public int SelfTests { get; private set; }

    public bool IsAvailable(int ordinal, out string reason)
    {
        reason = unavailable ?? $"cuda:{ordinal} is a test double";
        return unavailable is null && ordinal == 0;
    }

    public IBackend Open(int ordinal)
    {
        if (!IsAvailable(ordinal, out var reason))
            throw new DeviceUnavailableException($"device 'cuda:{ordinal}' is not available: {reason}");
        var gpu = new GpuDouble(faulty);
        Opened.Add(gpu);
        return gpu;
    }

    public DeviceIdentity Identify(IBackend device) => identity;

    public IReadOnlyList<SelfTestCheck> PrepareKernels(IBackend device)
    {
        SelfTests++;
        return [new SelfTestCheck("kernels", true, "nothing to build: the CPU backend stands in for the GPU")];
    }
}
