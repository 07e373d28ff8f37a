using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>The argument checks every backend shares: what a failure says, and that a passing check allocates nothing.</summary>
public class OpCheckTests
{
    private readonly CpuBackend _cpu = new();

    [Test]
    public void FailuresListWhatWasExpected()
    {
        using var ids = _cpu.Allocate(DType.I32, [2, 3], "ids");
        Assert.That(Assert.Throws<ArgumentException>(() => OpCheck.DType("Op", "t", ids, DType.BF16, DType.F32))!.Message,
            Is.EqualTo("Op: argument 't' (ids I32[2, 3]) has dtype I32, expected BF16 or F32"));
        Assert.That(Assert.Throws<ArgumentException>(() => OpCheck.Shape("Op", "t", ids, -1, 4))!.Message,
            Is.EqualTo("Op: argument 't' has shape [2, 3], expected [*, 4]"));
    }

    /// <summary>A CUDA op runs these checks before every launch, so they must not feed the garbage collector.</summary>
    [Test]
    public void PassingChecksAllocateNothing()
    {
        using var q = _cpu.Allocate(DType.F32, [3, 4, 8]);
        using var output = _cpu.Allocate(DType.F32, [3, 4, 8]);
        using var logSumExp = _cpu.Allocate(DType.F32, [3, 4]);
        using var keys = _cpu.Allocate(DType.F32, [2, 2, 5, 8]);
        using var values = _cpu.Allocate(DType.F32, [2, 2, 5, 8]);
        using var keyTags = _cpu.Allocate(DType.I32, [2, 5]);
        using var rows = _cpu.Allocate(DType.I32, [3]);
        using var positions = _cpu.Allocate(DType.I32, [3]);
        using var tags = _cpu.Allocate(DType.I32, [3]);
        var cache = new KvLayer(keys, values, keyTags);
        var tokens = new TokenMap(rows, positions, tags);

        void Check()
        {
            OpCheck.Backend(_cpu, "Attention", "q", q);
            OpCheck.DType("Attention", "q", q, DType.BF16, DType.F32);
            OpCheck.DType("Attention", "output", output, q.DType);
            OpShapes.Attention("Attention", q, cache, tokens, output, logSumExp);
        }

        Check();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Check();
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
