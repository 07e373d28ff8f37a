using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Interop;
using NUnit.Framework;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.GemmDecodeKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.PointwiseKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.RopeKernels;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>
/// The CoAR CUDA stand-in itself (kernels/emulator/standin): the H100 it presents, the limits it enforces with a GPU's
/// error codes, and the memory errors it reports naming the kernel, the launch and the allocation. Skipped on a GPU,
/// whose driver behaves as a GPU does (the same codes, but no reports).
/// </summary>
[NonParallelizable]
public unsafe class CudaStandInTests
{
    private CudaContext context = null!;
    private KernelCompiler compiler = null!;

    [SetUp]
    public void SetUp()
    {
        context = GpuRequirement.CreateContext();
        if (!CudaStandIn.IsLoaded)
        {
            context.Dispose();
            Assert.Ignore("these tests check the CoAR CUDA stand-in; the CUDA driver here is a GPU's");
        }
        NvrtcRequirement.EnsureLoaded();
        compiler = new KernelCompiler();
    }

    [TearDown]
    public void TearDown()
    {
        // After a fault every call fails with the context's sticky error, its teardown's too: the primary context
        // goes anyway, and the next test gets a fresh one.
        try
        {
            context?.Dispose();
        }
        catch (CudaException)
        {
        }
    }

    [Test]
    public void ItIsAnH100ThatSaysItIsAStandIn()
    {
        var d = context.Device;
        Assert.That(d.Name, Does.Contain("stand-in").And.Contain("H100"));
        Assert.That(d.ComputeCapability, Is.EqualTo(new ComputeCapability(9, 0)));
        Assert.That(d.MultiprocessorCount, Is.EqualTo(132));
        Assert.That(d.TotalMemoryBytes, Is.EqualTo(85_520_809_984UL));
        Assert.That((d.MaxSharedMemoryPerBlock, d.MaxSharedMemoryPerBlockOptin, d.MaxSharedMemoryPerMultiprocessor), Is.EqualTo((49152, 232448, 233472)));
        Assert.That(d.MaxThreadsPerBlock, Is.EqualTo(1024));
        Assert.That(d.PeakMemoryBandwidthBytesPerSecond, Is.EqualTo(3.35e12).Within(0.01e12));
        Assert.That(CudaStandIn.Description, Does.Contain("not a GPU"));
        Assert.That(CudaDriver.TryLoad(out var reason) && reason.Contains("stand-in"), Is.True, reason);

        var (free, total) = context.MemoryInfo();
        using var buffer = context.Allocate<byte>(100 << 20);
        Assert.That(context.MemoryInfo().Free, Is.EqualTo(free - (100UL << 20)), "an allocation takes its size from the free memory");
        Assert.That(total, Is.EqualTo(d.TotalMemoryBytes));
    }

    [Test]
    public void LaunchesOverTheLimitsFailAsOnAGpu()
    {
        var add = Kernel(Add.F32.File, Add.F32.Name);
        var y = context.Allocate<float>(64);
        var args = new AddArgs { Y = y.Pointer, A = y.Pointer, B = y.Pointer, N = 64, Vec = 0 };
        Assert.That(LaunchError(() => add.Launch(1, 1025, 0, null, ref args)), Is.EqualTo("CUDA_ERROR_INVALID_VALUE"), "1025 threads per block");
        Assert.That(LaunchError(() => add.Launch(1, new Dim3(64, 1, 65), 0, null, ref args)), Is.EqualTo("CUDA_ERROR_INVALID_VALUE"), "block z 65");
        Assert.That(LaunchError(() => add.Launch(new Dim3(1, 65536), 64, 0, null, ref args)), Is.EqualTo("CUDA_ERROR_INVALID_VALUE"), "grid y 65536");

        // __launch_bounds__(256): 512 threads are more than the function can have.
        var gemv = Kernel(Gemv.For(Managed.Tensors.DType.F32, Managed.Tensors.DType.F32).File, Gemv.For(Managed.Tensors.DType.F32, Managed.Tensors.DType.F32).Name);
        var gemvArgs = new GemvArgs { X = y.Pointer, W = y.Pointer, Y = y.Pointer, M = 1, N = 1, K = 8, OutF32 = 1 };
        Assert.That(gemv.ResourceUsage.MaxThreadsPerBlock, Is.EqualTo(256));
        Assert.That(gemv.ResourceUsage.Registers, Is.InRange(1, 255), "registers from the CUBIN");
        Assert.That(LaunchError(() => gemv.Launch(1, 512, 0, null, ref gemvArgs)), Is.EqualTo("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"));

        // Dynamic shared memory: 48 KiB without the opt-in, up to 227 KiB with it.
        var rope = Kernel(Rope.F32.File, Rope.F32.Name);
        var x = context.Allocate<float>(2 * 16);
        var positions = context.Allocate<int>(2);
        positions.CopyFrom([0, 7]);
        var ropeArgs = new RopeArgs { Y = x.Pointer, X = x.Pointer, Positions = positions.Pointer, Heads = 1, Dh = 16, Theta = 10000f, Direction = 1f };
        x.Fill(1f);
        var error = Assert.Throws<CudaException>(() => rope.Launch(2, 32, 49153, null, ref ropeArgs))!;
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_INVALID_VALUE"));
        Assert.That(error.Message, Does.Contain("49153 bytes of dynamic shared memory").And.Contain("cuFuncSetAttribute"));
        rope.SetMaxDynamicSharedMemory(232448);
        rope.Launch(2, 32, 232448, null, ref ropeArgs);
        context.Synchronize();
        Assert.That(CuNative.cuFuncSetAttribute(rope.Handle, CuFunctionAttribute.MaxDynamicSharedSizeBytes, 232449), Is.EqualTo(CuResult.InvalidValue),
            "more than the opt-in maximum");
        Assert.That(x.ToArray()[..16], Is.All.EqualTo(1f), "position 0 is not rotated");
    }

    [Test]
    public void AWriteFarPastAnAllocationFaultsNamingTheKernelLaunchAndAllocation()
    {
        var add = Kernel(Add.F32.File, Add.F32.Name);
        var small = context.Allocate<float>(100);
        var large = context.Allocate<float>(100_000);
        large.Clear();
        var args = new AddArgs { Y = small.Pointer, A = large.Pointer, B = large.Pointer, N = 100_000, Vec = 0 };
        add.Launch(Dim3.BlocksFor(100_000, 256), 256, 0, null, ref args);

        // As on a GPU the fault is reported by the calls after the launch, and sticks.
        var error = Assert.Throws<CudaException>(context.Synchronize)!;
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_ILLEGAL_ADDRESS"));
        Assert.That(error.Message, Does.Contain("kernel add_f32 (pointwise.cu) launch #").And.Contain("grid (391,1,1), block (256,1,1)"));
        Assert.That(error.Message, Does.Contain("bytes past the end of device allocation #").And.Contain("(400 bytes at"));
        Assert.That(Assert.Throws<CudaException>(() => small.ToArray())!.ErrorName, Is.EqualTo("CUDA_ERROR_ILLEGAL_ADDRESS"), "the error sticks");
    }

    [Test]
    public void AWriteJustPastAnAllocationIsFoundByItsCanaries()
    {
        var add = Kernel(Add.F32.File, Add.F32.Name);
        var small = context.Allocate<float>(100);
        var source = context.Allocate<float>(101);
        source.Clear();
        var args = new AddArgs { Y = small.Pointer, A = source.Pointer, B = source.Pointer, N = 101, Vec = 0 };
        add.Launch(1, 128, 0, null, ref args);

        var error = Assert.Throws<CudaException>(context.Synchronize)!;
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_ILLEGAL_ADDRESS"));
        Assert.That(error.Message, Does.Contain("kernel add_f32 (pointwise.cu) launch #").And.Contain("wrote outside device allocation #")
            .And.Contain("the byte at its end + 0 was changed"));
    }

    [Test]
    public void AUseAfterFreeIsNamed()
    {
        var add = Kernel(Add.F32.File, Add.F32.Name);
        var freed = context.Allocate<float>(256);
        ulong stale = freed.Pointer;
        freed.Dispose();
        var live = context.Allocate<float>(256);
        var args = new AddArgs { Y = live.Pointer, A = stale, B = live.Pointer, N = 256, Vec = 0 };
        add.Launch(1, 256, 0, null, ref args);

        var error = Assert.Throws<CudaException>(context.Synchronize)!;
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_ILLEGAL_ADDRESS"));
        Assert.That(error.Message, Does.Contain("argument 1 `a` (const float*)").And.Contain("freed after launch #").And.Contain("a use after free"));
    }

    [Test]
    public void ADoubleFreeIsNamed()
    {
        ulong pointer;
        Assert.That(CuNative.cuMemAlloc_v2(&pointer, 4096), Is.EqualTo(CuResult.Success));
        Assert.That(CuNative.cuMemFree_v2(pointer), Is.EqualTo(CuResult.Success));
        Assert.That(CuNative.cuMemFree_v2(pointer), Is.EqualTo(CuResult.InvalidValue));
        Assert.That(CudaStandIn.ReportOf(CuResult.InvalidValue), Does.Contain("double free of device allocation #").And.Contain("(4096 bytes at"));
    }

    [Test]
    public void AMisalignedVectorAccessFaultsAsOnAGpu()
    {
        var add = Kernel(Add.F32.File, Add.F32.Name);
        var buffer = context.Allocate<float>(1024);
        buffer.Clear();
        // The 16-byte path on a pointer 4 bytes past a 16-byte boundary.
        var args = new AddArgs { Y = buffer.PointerAt(1), A = buffer.PointerAt(1), B = buffer.PointerAt(1), N = 512, Vec = 1 };
        add.Launch(1, 128, 0, null, ref args);

        var error = Assert.Throws<CudaException>(context.Synchronize)!;
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_MISALIGNED_ADDRESS"));
        Assert.That(error.Message, Does.Contain("kernel add_f32").And.Contain("misaligned"));
    }

    [Test]
    public void EventsTimeTheEmulationInHostTime()
    {
        var add = Kernel(Add.F32.File, Add.F32.Name);
        var y = context.Allocate<float>(1 << 16);
        y.Clear();
        var args = new AddArgs { Y = y.Pointer, A = y.Pointer, B = y.Pointer, N = 1 << 16, Vec = 1 };
        using var stream = context.CreateStream();
        using var start = context.CreateEvent();
        using var end = context.CreateEvent();
        start.Record(stream);
        add.Launch(Dim3.BlocksFor(1 << 16, 256), 256, 0, stream, ref args);
        end.Record(stream);
        end.Synchronize();
        Assert.That(CudaEvent.ElapsedMilliseconds(start, end), Is.GreaterThan(0f));
        Assert.That(stream.IsComplete, Is.True, "work runs when it is queued");
    }

    private CudaKernel Kernel(string file, string name) => compiler.LoadModule(context, file).GetKernel(name);

    private static string LaunchError(TestDelegate launch) => Assert.Throws<CudaException>(launch)!.ErrorName;
}
