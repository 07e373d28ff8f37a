using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Tensors;

public class BFloat16Tests
{
    [Test]
    public void RoundsToNearestEven()
    {
        // 1 + 2^-8 is exactly half way between two bf16 values (1 and 1 + 2^-7): ties go to the even mantissa (1).
        Assert.That(BFloat16.Round(1f + MathF.Pow(2, -8)), Is.EqualTo(1f));
        // 1 + 3 * 2^-8 is half way between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        Assert.That(BFloat16.Round(1f + 3 * MathF.Pow(2, -8)), Is.EqualTo(1f + MathF.Pow(2, -6)));
        Assert.That(BFloat16.Round(1f + 1.1f * MathF.Pow(2, -8)), Is.EqualTo(1f + MathF.Pow(2, -7)));
    }

    [Test]
    public void KeepsSpecialValues()
    {
        Assert.That(float.IsNaN(BFloat16.Round(float.NaN)), Is.True);
        Assert.That(BFloat16.Round(float.PositiveInfinity), Is.EqualTo(float.PositiveInfinity));
        Assert.That(BFloat16.Round(float.MaxValue), Is.EqualTo(float.PositiveInfinity), "rounds up past the largest bf16");
        Assert.That(BFloat16.FromSingle(-0f), Is.EqualTo((ushort)0x8000));
    }

    [Test]
    public void SpanConversionMatchesScalar()
    {
        var rng = new Random(3);
        var bits = new ushort[37];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)rng.Next(0, 0x7F80);
        var floats = new float[bits.Length];
        BFloat16.ToSingle(bits, floats);
        for (int i = 0; i < bits.Length; i++)
            Assert.That(floats[i], Is.EqualTo(BFloat16.ToSingle(bits[i])), $"element {i}");
        var back = new ushort[bits.Length];
        BFloat16.FromSingle(floats, back);
        Assert.That(back, Is.EqualTo(bits));
    }
}
