using System.Runtime.InteropServices;
using CoAR.Engine.Graph.Generation;

namespace CoAR.Engine.Native;

/// <summary>
/// coar_images as one malloc'd block: the header, the image array, then each image's pixels and tokens. One block
/// means one free (coar_images_free) and no partly freed result.
/// </summary>
internal static unsafe class ImageResults
{
    public static NativeImages* Allocate(IReadOnlyList<GeneratedImage> images)
    {
        nuint size = Align((nuint)sizeof(NativeImages)) + Align((nuint)(images.Count * sizeof(NativeImage)));
        foreach (var g in images)
            size += Align((nuint)g.Image.Pixels.Length) + Align((nuint)g.Tokens.Length * sizeof(int));
        var block = (byte*)NativeMemory.Alloc(size);
        var result = (NativeImages*)block;
        var array = (NativeImage*)(block + Align((nuint)sizeof(NativeImages)));
        byte* next = (byte*)array + Align((nuint)(images.Count * sizeof(NativeImage)));
        for (int i = 0; i < images.Count; i++)
        {
            var g = images[i];
            var rgb = next;
            g.Image.Pixels.CopyTo(new Span<byte>(rgb, g.Image.Pixels.Length));
            next += Align((nuint)g.Image.Pixels.Length);
            var tokens = (int*)next;
            g.Tokens.CopyTo(new Span<int>(tokens, g.Tokens.Length));
            next += Align((nuint)g.Tokens.Length * sizeof(int));
            array[i] = new NativeImage
            {
                Width = g.Image.Width, Height = g.Image.Height, Rgb = rgb, Tokens = tokens, TokenCount = g.Tokens.Length, Seed = g.Prompt.Seed,
            };
        }
        var timings = images.Count > 0 ? images[0].Timings : null;
        *result = new NativeImages
        {
            Count = images.Count, Images = array,
            PrefillSeconds = timings?.Prefill.TotalSeconds ?? 0, DecodeSeconds = timings?.Decode.TotalSeconds ?? 0,
        };
        return result;
    }

    public static void Free(NativeImages* images) => NativeMemory.Free(images);

    private static nuint Align(nuint bytes) => (bytes + 15) & ~(nuint)15;
}
