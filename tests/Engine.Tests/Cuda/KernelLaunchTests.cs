using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.PointwiseKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.RowKernels;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>
/// Kernels launched through the driver API directly (module, kernel, stream, event), on a GPU or the CUDA stand-in,
/// against the same operation in C#: addition (pointwise.cu), common.cuh's bf16 conversions through the converting
/// row gathers (rows.cu), and common.cuh's helpers.
/// </summary>
public class KernelLaunchTests
{
    private const int Threads = 256;

    private struct UnaryArgs
    {
        public ulong Out;
        public ulong In;
        public long Count;
    }

    private struct MmaArgs
    {
        public ulong D;
        public ulong A;
        public ulong Bt;
    }

    private struct WarpArgs
    {
        public ulong Sums;
        public ulong Maxima;
        public ulong In;
    }

    private CudaContext context = null!;
    private CudaModule pointwise = null!;
    private string cacheDirectory = "";

    [SetUp]
    public void SetUp()
    {
        context = GpuRequirement.CreateContext();
        NvrtcRequirement.EnsureLoaded();
        cacheDirectory = Directory.CreateTempSubdirectory("coar-gpu-kernels-").FullName;
        pointwise = Compiler(KernelSourceSet.Embedded).LoadModule(context, Add.F32.File);
    }

    [TearDown]
    public void TearDown()
    {
        context?.Dispose();
        if (Directory.Exists(cacheDirectory))
            Directory.Delete(cacheDirectory, recursive: true);
    }

    private KernelCompiler Compiler(KernelSourceSet sources) => new(new KernelCompilerOptions { Sources = sources, CacheDirectory = cacheDirectory });

    private static float[] RandomFloats(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (rng.NextSingle() * 2 - 1) * 100).ToArray();
    }

    private DeviceBuffer<T> Upload<T>(T[] data) where T : unmanaged
    {
        var buffer = context.Allocate<T>(data.Length);
        buffer.CopyFrom(data);
        return buffer;
    }

    [Test]
    public void AddF32MatchesCSharp()
    {
        const int n = 100_003;
        var a = RandomFloats(n, 1);
        var b = RandomFloats(n, 2);
        var output = context.Allocate<float>(n);
        var args = new AddArgs { Y = output.Pointer, A = Upload(a).Pointer, B = Upload(b).Pointer, N = n, Vec = 1 };

        // A small grid on purpose: the grid-stride loop must cover the rest.
        pointwise.GetKernel(Add.F32.Name).Launch(new Dim3(37), Threads, 0, null, ref args);

        Assert.That(output.ToArray(), Is.EqualTo(a.Zip(b, (x, y) => x + y).ToArray()));
    }

    [Test]
    public void AddBf16RoundsLikeCSharp()
    {
        const int n = 65_537;
        var a = RandomFloats(n, 3).Select(BFloat16.FromSingle).ToArray();
        var b = RandomFloats(n, 4).Select(BFloat16.FromSingle).ToArray();
        var output = context.Allocate<ushort>(n);
        var args = new AddArgs { Y = output.Pointer, A = Upload(a).Pointer, B = Upload(b).Pointer, N = n, Vec = 0 };

        pointwise.GetKernel(Add.Bf16.Name).Launch(Dim3.BlocksFor(n, Threads), Threads, 0, null, ref args);

        var expected = a.Zip(b, (x, y) => BFloat16.FromSingle(BFloat16.ToSingle(x) + BFloat16.ToSingle(y))).ToArray();
        Assert.That(output.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void ConversionsMatchCSharpBitForBitIncludingTiesAndSpecials()
    {
        var values = RandomFloats(4086, 5).Concat(
        [
            0f, -0f, 1f + MathF.Pow(2, -8), 1f + 3 * MathF.Pow(2, -8), float.MaxValue, float.Epsilon,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, BitConverter.Int32BitsToSingle(0x7F80_0001),
        ]).ToArray();
        const int d = 64;
        int rows = values.Length / d;
        var rowsInOrder = Upload(Enumerable.Range(0, rows).ToArray());
        var module = Compiler(KernelSourceSet.Embedded).LoadModule(context, GatherRowsF32Bf16.File);

        var narrowed = context.Allocate<ushort>(values.Length);
        var narrowArgs = new GatherConvertArgs { Out = narrowed.Pointer, X = Upload(values).Pointer, Indices = rowsInOrder.Pointer, Rows = rows, D = d, Vec = 1 };
        module.GetKernel(GatherRowsF32Bf16.Name).Launch(rows, 128, 0, null, ref narrowArgs);
        var bits = narrowed.ToArray();
        Assert.That(bits, Is.EqualTo(values.Select(BFloat16.FromSingle).ToArray()));

        var widened = context.Allocate<float>(values.Length);
        var widenArgs = new GatherConvertArgs { Out = widened.Pointer, X = narrowed.Pointer, Indices = rowsInOrder.Pointer, Rows = rows, D = d, Vec = 1 };
        module.GetKernel(GatherRowsBf16F32.Name).Launch(rows, 128, 0, null, ref widenArgs);
        Assert.That(widened.ToArray().Select(BitConverter.SingleToInt32Bits),
            Is.EqualTo(bits.Select(v => BitConverter.SingleToInt32Bits(BFloat16.ToSingle(v)))));
    }

    [Test]
    public void LaunchesAllocateNothingAndAreTimedByEvents()
    {
        // What is checked does not depend on the size: small enough for 100 launches on the CUDA stand-in.
        const int n = 1 << 16;
        var output = context.Allocate<float>(n);
        var input = context.Allocate<float>(n);
        input.Clear();
        var args = new AddArgs { Y = output.Pointer, A = input.Pointer, B = input.Pointer, N = n, Vec = 1 };
        using var stream = context.CreateStream(nonBlocking: true);
        using var start = context.CreateEvent();
        using var end = context.CreateEvent();
        var kernel = pointwise.GetKernel(Add.F32.Name);

        kernel.Launch(Dim3.BlocksFor(n, Threads), Threads, 0, stream, ref args); // warm: the argument layout is computed once
        start.Record(stream);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
            kernel.Launch(Dim3.BlocksFor(n, Threads), Threads, 0, stream, ref args);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        end.Record(stream);
        end.Synchronize();

        Assert.That(allocated, Is.Zero, "a launch allocates nothing on the managed heap");

        Assert.That(CudaEvent.ElapsedMilliseconds(start, end), Is.GreaterThan(0f));
        Assert.That(kernel.ResourceUsage.Registers, Is.Positive);
        Assert.That(kernel.ResourceUsage.LocalBytes, Is.Zero, "no register spills in an addition");
    }

    [Test]
    public void AnUnknownKernelNameIsAnErrorNamingTheModule()
    {
        var error = Assert.Throws<CudaException>(() => pointwise.GetKernel("no_such_kernel_f32"))!;
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_NOT_FOUND"));
        Assert.That(error.Message, Does.Contain("no_such_kernel_f32").And.Contain("pointwise.cu"));
    }

    [Test]
    public void AFatbinDirectoryIsUsedInsteadOfNvrtc()
    {
        // The driver loads a CUBIN through the same call as a fatbin, so NVRTC's output stands in for nvcc's here.
        var fatbins = Directory.CreateDirectory(Path.Combine(cacheDirectory, "fatbins")).FullName;
        var image = Compiler(KernelSourceSet.Embedded).Compile(Add.F32.File, context.Device.ComputeCapability).Image;
        File.WriteAllBytes(Path.Combine(fatbins, "pointwise.fatbin"), image);
        var compiler = new KernelCompiler(new KernelCompilerOptions { FatbinDirectory = fatbins });

        var module = compiler.LoadModule(context, Add.F32.File);
        Assert.That(module.GetKernel(Add.F32.Name).Name, Is.EqualTo("add_f32"));
        Assert.That(module.ImageDescription, Does.Contain("pointwise.fatbin"));
        Assert.That(compiler.NvrtcCompilations, Is.Zero);

        File.Delete(Path.Combine(fatbins, "pointwise.fatbin"));
        Assert.That(() => compiler.LoadModule(context, Add.F32.File),
            Throws.InstanceOf<FileNotFoundException>().With.Message.Contain("COAR_KERNEL_FATBIN").And.Message.Contain("pointwise.fatbin"));
    }

    [Test]
    public void TensorCoreTileMatchesCSharp()
    {
        var module = Compiler(CommonHelperKernels.Sources).LoadModule(context, CommonHelperKernels.FileName);
        var rng = new Random(21);
        var a = Enumerable.Range(0, 16 * 16).Select(_ => BFloat16.FromSingle(rng.NextSingle() * 2 - 1)).ToArray();
        var bt = Enumerable.Range(0, 8 * 16).Select(_ => BFloat16.FromSingle(rng.NextSingle() * 2 - 1)).ToArray();
        var d = context.Allocate<float>(16 * 8);
        var args = new MmaArgs { D = d.Pointer, A = Upload(a).Pointer, Bt = Upload(bt).Pointer };

        module.GetKernel("mma_tile_bf16").Launch(1, 32, 0, null, ref args);

        var result = d.ToArray();
        for (int row = 0; row < 16; row++)
        {
            for (int column = 0; column < 8; column++)
            {
                double expected = 0;
                for (int k = 0; k < 16; k++)
                    expected += (double)BFloat16.ToSingle(a[row * 16 + k]) * BFloat16.ToSingle(bt[column * 16 + k]);
                Assert.That(result[row * 8 + column], Is.EqualTo(expected).Within(1e-4), $"D[{row}, {column}]");
            }
        }
    }

    [Test]
    public void WarpReductionsAndFastExp2MatchCSharp()
    {
        var module = Compiler(CommonHelperKernels.Sources).LoadModule(context, CommonHelperKernels.FileName);
        var values = RandomFloats(32, 22);
        var sums = context.Allocate<float>(32);
        var maxima = context.Allocate<float>(32);
        var warpArgs = new WarpArgs { Sums = sums.Pointer, Maxima = maxima.Pointer, In = Upload(values).Pointer };
        module.GetKernel("warp_reduce_f32").Launch(1, 32, 0, null, ref warpArgs);

        Assert.That(sums.ToArray(), Is.All.EqualTo(values.Sum()).Within(1e-2));
        Assert.That(maxima.ToArray(), Is.All.EqualTo(values.Max()));

        var exponents = Enumerable.Range(0, 1000).Select(i => -20f + i * 0.04f).ToArray();
        var powers = context.Allocate<float>(exponents.Length);
        var expArgs = new UnaryArgs { Out = powers.Pointer, In = Upload(exponents).Pointer, Count = exponents.Length };
        module.GetKernel("fast_exp2_f32").Launch(Dim3.BlocksFor(exponents.Length, Threads), Threads, 0, null, ref expArgs);
        var result = powers.ToArray();
        for (int i = 0; i < exponents.Length; i++)
            Assert.That(result[i], Is.EqualTo(MathF.Pow(2, exponents[i])).Within(1e-4).Percent, $"2^{exponents[i]}");
    }
}
