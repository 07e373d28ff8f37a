using CoAR.Engine.Graph.Imaging;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Imaging;

public class CropSizesTests
{
    [Test]
    public void The768ListMatchesLuminas()
    {
        // Reference: Lumina-mGPT's generate_crop_size_list(24 ** 2, 32) run in CPython: 73 sizes.
        IReadOnlyList<CropSize> sizes = CropSizes.ForTarget(768);
        Assert.That(sizes, Has.Count.EqualTo(73));
        Assert.That(sizes.Take(6), Is.EqualTo(new CropSize[] { new(1536, 384), new(1504, 384), new(1472, 384), new(1440, 384), new(1408, 384), new(1408, 416) }));
        Assert.That(sizes[36], Is.EqualTo(new CropSize(768, 768)));
        Assert.That(sizes, Does.Contain(new CropSize(608, 960)).And.Contain(new CropSize(1024, 576)));
        Assert.That(sizes[^1], Is.EqualTo(new CropSize(384, 1536)));
    }

    [TestCase(512, 49)]
    [TestCase(768, 73)]
    [TestCase(1024, 97)]
    public void EverySizeFollowsTheRules(int target, int count)
    {
        IReadOnlyList<CropSize> sizes = CropSizes.ForTarget(target);
        Assert.That(sizes, Has.Count.EqualTo(count));
        int cells = (target / 32) * (target / 32);
        foreach (CropSize size in sizes)
        {
            Assert.That(size.Width % 32, Is.Zero, size.ToString());
            Assert.That(size.Height % 32, Is.Zero, size.ToString());
            Assert.That(size.Width / 32 * (size.Height / 32), Is.LessThanOrEqualTo(cells), size.ToString());
            Assert.That((double)Math.Max(size.Width, size.Height) / Math.Min(size.Width, size.Height), Is.LessThanOrEqualTo(4.0));
        }
        Assert.That(sizes, Is.Unique);
        Assert.That(sizes, Does.Contain(new CropSize(target, target)));
    }

    [TestCase(1000, 1000, 768, 768)]
    [TestCase(2000, 1000, 1056, 544)]
    [TestCase(300, 1200, 384, 1536)]
    [TestCase(1920, 1080, 1024, 576)]
    [TestCase(640, 480, 864, 640)]
    [TestCase(5000, 100, 1536, 384)]
    [TestCase(777, 555, 896, 640)]
    public void TheBestAspectMatchIsLuminas(int width, int height, int cropWidth, int cropHeight)
    {
        // Expected values from Lumina's var_center_crop ranking run in CPython on the 768 list.
        Assert.That(CropSizes.BestFor(width, height, CropSizes.ForTarget(768)), Is.EqualTo(new CropSize(cropWidth, cropHeight)));
    }

    [Test]
    public void TiesGoToTheLargerWidthThenHeight()
    {
        // Both keep half the image; Python's descending sort of (0.5, (w, h)) puts (64, 32) first.
        Assert.That(CropSizes.BestFor(100, 100, [new(32, 64), new(64, 32)]), Is.EqualTo(new CropSize(64, 32)));
    }

    [Test]
    public void BadTargetsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CropSizes.ForTarget(500));
        Assert.Throws<ArgumentOutOfRangeException>(() => CropSizes.ForTarget(0));
    }
}
