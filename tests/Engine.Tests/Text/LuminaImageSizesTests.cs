using CoAR.Engine.Graph.Text;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class LuminaImageSizesTests
{
    [TestCase(768, 768, 768)]
    [TestCase(1536, 384, 768)]
    [TestCase(384, 1536, 768)]
    [TestCase(512, 512, 512)]
    [TestCase(1024, 1024, 1024)]
    [TestCase(640, 896, 768)]
    public void ValidSizes(int width, int height, int target)
    {
        Assert.DoesNotThrow(() => LuminaImageSizes.Validate(width, height, target));
    }

    [TestCase(770, 768, 768, "multiples of 32")]
    [TestCase(0, 768, 768, "multiples of 32")]
    [TestCase(2048, 256, 768, "aspect ratio")]
    [TestCase(1280, 512, 768, "576")] // 40 x 16 = 640 cells > 24 x 24
    [TestCase(1024, 1024, 768, "exceed")]
    [TestCase(512, 512, 500, "Target size 500")]
    public void InvalidSizesSayWhy(int width, int height, int target, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => LuminaImageSizes.Validate(width, height, target));
        Assert.That(error!.Message, Does.Contain(reason));
    }

    [Test]
    public void AllowedListWalksFromWideToTall()
    {
        var sizes = LuminaImageSizes.Allowed(768);
        Assert.That(sizes[0], Is.EqualTo(new ImageSize(1536, 384)));
        Assert.That(sizes[^1], Is.EqualTo(new ImageSize(384, 1536)));
        Assert.That(sizes, Does.Contain(new ImageSize(768, 768)));
        Assert.That(sizes, Is.Unique);
        foreach (var size in sizes)
            Assert.DoesNotThrow(() => LuminaImageSizes.Validate(size.Width, size.Height, 768), size.ToString());
        // Widths never increase along the list; the 512 list is the same walk with a 16 x 16 budget.
        Assert.That(sizes.Select(s => s.Width), Is.Ordered.Descending);
        Assert.That(LuminaImageSizes.Allowed(512)[0], Is.EqualTo(new ImageSize(1024, 256)));
    }
}
