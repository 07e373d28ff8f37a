using System.Text.Json;
using CoAR.Engine.Managed.Imaging;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Imaging;

/// <summary>ImageResize against Pillow's own output (pillow_resize.json, made by pillow_resize.py): bit for bit.</summary>
public class PillowResizeTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "Imaging", "pillow_resize.json")));
        foreach (var c in json.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] from = c.GetProperty("from").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            int[] to = c.GetProperty("to").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            string filter = c.GetProperty("filter").GetString()!;
            yield return new TestCaseData(filter, from[0], from[1], to[0], to[1], Convert.FromBase64String(c.GetProperty("rgb").GetString()!))
                .SetName($"{filter} {from[0]}x{from[1]} to {to[0]}x{to[1]}");
        }
    }

    /// <summary>The formula pillow_resize.py uses.</summary>
    internal static RgbImage Synthetic(int width, int height)
    {
        var image = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        for (int c = 0; c < 3; c++)
            image.Pixels[(y * width + x) * 3 + c] = (byte)(((x * 73 + y * 151 + c * 29) ^ (x * y)) & 255);
        return image;
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesPillowBitForBit(string filter, int width, int height, int toWidth, int toHeight, byte[] expected)
    {
        var source = Synthetic(width, height);
        var resized = filter == "box" ? ImageResize.Box(source, toWidth, toHeight) : ImageResize.Bicubic(source, toWidth, toHeight);
        Assert.That((resized.Width, resized.Height), Is.EqualTo((toWidth, toHeight)));
        int differing = resized.Pixels.Zip(expected, (a, b) => a != b).Count(d => d);
        Assert.That(differing, Is.Zero, $"{differing} of {expected.Length} values differ from Pillow's");
    }
}
