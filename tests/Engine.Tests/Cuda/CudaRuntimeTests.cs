using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>Memory, streams, events and errors on a real GPU; skipped with the driver's reason where there is none.</summary>
public class CudaRuntimeTests
{
    [Test]
    public void DeviceBufferRoundTripsSynchronouslyAndAsynchronously()
    {
        using var context = GpuRequirement.CreateContext();
        var rng = new Random(11);
        var data = Enumerable.Range(0, 10_007).Select(_ => rng.NextSingle() * 2 - 1).ToArray();

        var device = context.Allocate<float>(data.Length);
        device.CopyFrom(data);
        Assert.That(device.ToArray(), Is.EqualTo(data));

        using var stream = context.CreateStream();
        var pinned = context.AllocateHost<float>(data.Length);
        var copy = context.Allocate<float>(data.Length);
        copy.CopyFromAsync(device, stream);
        copy.CopyToAsync(pinned, stream);
        stream.Synchronize();
        Assert.That(pinned.Span.ToArray(), Is.EqualTo(data));
        Assert.That(stream.IsComplete, Is.True);

        pinned.Span.Fill(3.5f);
        device.CopyFromAsync(pinned, stream);
        stream.Synchronize();
        Assert.That(device.ToArray(), Is.All.EqualTo(3.5f));
    }

    [Test]
    public void PartialCopiesRespectOffsetsAndBounds()
    {
        using var context = GpuRequirement.CreateContext();
        var device = context.Allocate<int>(100);
        device.Fill(-1);
        device.CopyFrom(new[] { 1, 2, 3 }, offset: 97);
        var tail = new int[4];
        device.CopyTo(tail, offset: 96);

        Assert.That(tail, Is.EqualTo(new[] { -1, 1, 2, 3 }));
        Assert.That(() => device.CopyFrom(new int[4], offset: 97), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contain("DeviceBuffer<Int32>[100]"));
    }

    [Test]
    public void FillAndClearSetEveryElement()
    {
        using var context = GpuRequirement.CreateContext();
        var halves = context.Allocate<ushort>(333);
        halves.Fill(0x3F80);
        Assert.That(halves.ToArray(), Is.All.EqualTo((ushort)0x3F80));
        halves.Clear();
        Assert.That(halves.ToArray(), Is.All.EqualTo((ushort)0));
        Assert.That(() => context.Allocate<double>(4).Fill(1.0), Throws.InstanceOf<NotSupportedException>());
    }

    [Test]
    public void AnImpossibleAllocationReportsRequestedAndFreeBytes()
    {
        using var context = GpuRequirement.CreateContext();
        long tooMuch = (long)context.Device.TotalMemoryBytes + (1L << 34);

        var error = Assert.Throws<CudaException>(() => context.Allocate<byte>(tooMuch))!;
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_OUT_OF_MEMORY"));
        Assert.That(error.ApiCall, Is.EqualTo("cuMemAlloc_v2"));
        Assert.That(error.Message, Does.Contain($"({tooMuch} bytes)").And.Contain("free of"));
    }

    [Test]
    public void DisposingTheContextFreesWhatItOwns()
    {
        var context = GpuRequirement.CreateContext();
        var buffer = context.Allocate<float>(1024);
        var stream = context.CreateStream(nonBlocking: true);
        var timer = context.CreateEvent();
        context.Dispose();

        Assert.That(new CudaResource[] { buffer, stream, timer }.Select(r => r.IsDisposed), Is.All.True);
        Assert.That(() => buffer.Pointer, Throws.InstanceOf<ObjectDisposedException>());
    }

    [Test]
    public void DevicePropertiesAreSensible()
    {
        using var context = GpuRequirement.CreateContext();
        var device = context.Device;
        var (free, total) = context.MemoryInfo();

        Assert.That(device.Name, Is.Not.Empty);
        Assert.That(device.ComputeCapability.Major, Is.GreaterThanOrEqualTo(5));
        Assert.That(device.MultiprocessorCount, Is.Positive);
        Assert.That(total, Is.EqualTo(device.TotalMemoryBytes));
        Assert.That(free, Is.InRange(1UL, total));
        Assert.That(device.MaxSharedMemoryPerBlockOptin, Is.GreaterThanOrEqualTo(device.MaxSharedMemoryPerBlock));
        Assert.That(device.L2CacheBytes, Is.Positive);
    }
}
