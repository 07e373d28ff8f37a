using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Imaging;

/// <summary>Runs one of stb_image_write's <c>*_to_func</c> writers and collects the bytes it hands back.</summary>
internal static unsafe class StbEncoder
{
    internal enum Format { Png, Bmp, Jpeg }

    /// <summary>Encodes <paramref name="image"/>; <paramref name="jpegQuality"/> (1..100) applies to JPEG only.</summary>
    internal static byte[] Encode(RgbImage image, Format format, int jpegQuality = 90)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Encode(image.Pixels, image.Width, image.Height, 3, format, jpegQuality);
    }

    /// <summary>Encodes interleaved 8-bit pixels with 1 to 4 components (grey, grey+alpha, RGB, RGBA).</summary>
    internal static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int components, Format format,
        int jpegQuality = 90)
    {
        if (width <= 0 || height <= 0 || components is < 1 or > 4 || pixels.Length != (long)width * height * components)
            throw new ArgumentException(
                $"{pixels.Length} bytes are not a {width}x{height} image with {components} components", nameof(pixels));
        StbLibrary.EnsureLoaded();
        var sink = new Sink();
        var handle = GCHandle.Alloc(sink);
        try
        {
            int ok;
            fixed (byte* data = pixels)
            {
                void* context = (void*)GCHandle.ToIntPtr(handle);
                ok = format switch
                {
                    Format.Png => StbImageWrite.PngToFunc(&Collect, context, width, height, components, data,
                        width * components),
                    Format.Bmp => StbImageWrite.BmpToFunc(&Collect, context, width, height, components, data),
                    Format.Jpeg => StbImageWrite.JpgToFunc(&Collect, context, width, height, components, data,
                        jpegQuality),
                    _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
                };
            }
            if (sink.Failure is { } failure)
                throw new InvalidOperationException($"encoding a {width}x{height} {format} failed", failure);
            if (ok == 0)
                throw new InvalidOperationException($"stb could not encode a {width}x{height} image as {format}");
            return sink.Bytes.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }

    // Called by stb on its own stack: an exception must not cross back into C, so it is parked on the sink.
    [UnmanagedCallersOnly]
    private static void Collect(void* context, void* data, int size)
    {
        var sink = (Sink)GCHandle.FromIntPtr((nint)context).Target!;
        try
        {
            sink.Bytes.Write(new ReadOnlySpan<byte>(data, size));
        }
        catch (Exception e)
        {
            sink.Failure ??= e;
        }
    }

    private sealed class Sink
    {
        internal readonly MemoryStream Bytes = new();
        internal Exception? Failure;
    }
}
