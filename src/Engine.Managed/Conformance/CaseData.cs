namespace CoAR.Engine.Managed.Conformance;

/// <summary>Random case inputs: uniform, never exactly zero (a dropped term must show), scaled per use.</summary>
public static class CaseData
{
    public static float[] Uniform(Random rng, long count, float scale = 1f)
    {
        var a = new float[count];
        for (long i = 0; i < count; i++)
        {
            float v = (float)(rng.NextDouble() * 2 - 1) * scale;
            a[i] = v == 0 ? scale / 2 : v;
        }
        return a;
    }

    /// <summary>Positions of packed rows filling each row from 0: (rows, positions).</summary>
    public static (int[] Rows, int[] Positions) Packed(params int[] rowLengths)
    {
        var rows = rowLengths.SelectMany((len, r) => Enumerable.Repeat(r, len)).ToArray();
        var positions = rowLengths.SelectMany(len => Enumerable.Range(0, len)).ToArray();
        return (rows, positions);
    }
}
