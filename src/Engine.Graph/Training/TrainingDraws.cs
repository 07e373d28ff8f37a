using CoAR.Engine.Managed.Backends;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// The random choices of a training run as pure functions of (seed, pass): which photo (or class image) a pass draws,
/// the order shuffled anew every epoch, and where its crop sits. Nothing is carried from pass to pass, so a resumed
/// run draws exactly what an uninterrupted one would. Philox keyed by the seed, countered by (stream, epoch or pass,
/// index).
/// </summary>
public static class TrainingDraws
{
    public enum Stream : uint
    {
        SubjectOrder = 1,
        ClassOrder = 2,
        CropLeft = 3,
        CropTop = 4,
        Template = 5,
        TextInit = 6,
    }

    /// <summary>The item pass <paramref name="pass"/> draws from <paramref name="count"/> items: epoch pass / count, shuffled.</summary>
    public static int Item(int seed, Stream stream, long pass, int count)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "nothing to draw from");
        long epoch = pass / count;
        var order = Permutation(seed, stream, epoch, count);
        return order[(int)(pass % count)];
    }

    /// <summary>The order of epoch <paramref name="epoch"/> (Fisher-Yates).</summary>
    public static int[] Permutation(int seed, Stream stream, long epoch, int count)
    {
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        for (int i = count - 1; i > 0; i--)
        {
            int j = Below(seed, stream, epoch, i, i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>A crop offset in [0, slack] for pass <paramref name="pass"/> (Lumina: random.randint(0, size - crop)).</summary>
    public static int Offset(int seed, Stream axis, long pass, int slack) =>
        slack <= 0 ? 0 : Below(seed, axis, pass, 0, slack + 1);

    /// <summary>A standard normal draw for element <paramref name="index"/> (Box-Muller on two Philox words).</summary>
    public static double Normal(int seed, Stream stream, int index)
    {
        var (x, y, _, _) = Philox.Block((uint)seed, (uint)stream, 0, 0, (uint)index, 0x436f4152);
        double u1 = (x + 1.0) / 4294967297.0, u2 = y / 4294967296.0;
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Uniform in [0, bound) from 32 Philox bits (the bias, at most bound / 2^32, is far below anything measurable).</summary>
    private static int Below(int seed, Stream stream, long counter, int index, int bound)
    {
        var (x, _, _, _) = Philox.Block((uint)seed, (uint)stream, (uint)counter, (uint)(counter >> 32), (uint)index, 0x436f4152);
        return (int)(((ulong)x * (uint)bound) >> 32);
    }
}
