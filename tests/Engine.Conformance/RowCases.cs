using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Conformance;

/// <summary>
/// Conformance cases of the row moves: embedding from an F32 table, gathers and scatters within and across F32 and the
/// activation type (context-token injection and its gradient), scatter-add with repeated indices, zeroed rows, Zero,
/// and the KV store. Moves are exact; an accumulation into bf16 rounds once.
/// </summary>
public static class RowCases
{
    public static IEnumerable<OpCase> All()
    {
        yield return new OpCase("Embedding", "F32 table,V=300,D=40,T=7", (c, r) =>
        {
            var table = c.Float(DType.F32, Uniform(r, 300 * 40), 300, 40);
            var ids = c.Ints(Enumerable.Range(0, 7).Select(_ => r.Next(300)).ToArray());
            c.Backend.Embedding(table, ids, c.Output("y", c.Activation, 7, 40));
        }, 0);

        yield return new OpCase("GatherRows", "act into F32,T=9,D=4096,n=3", (c, r) =>
        {
            var x = c.Act(Uniform(r, 9 * 4096), 9, 4096);
            c.Backend.GatherRows(x, c.Ints([8, 0, 8]), c.Output("y", DType.F32, 3, 4096));
        }, 0);
        yield return new OpCase("GatherRows", "F32 into act,T=6,D=35,n=4", (c, r) =>
        {
            var table = c.Float(DType.F32, Uniform(r, 6 * 35), 6, 35);
            c.Backend.GatherRows(table, c.Ints([5, 1, 1, 0]), c.Output("y", c.Activation, 4, 35));
        }, 0);
        yield return new OpCase("GatherRows", "I32,T=5,D=3,n=4", (c, r) =>
        {
            var x = c.Ints(Enumerable.Range(0, 15).Select(_ => r.Next(-1000, 1000)).ToArray(), 5, 3);
            c.Backend.GatherRows(x, c.Ints([4, 2, 0, 2]), c.Output("y", DType.I32, 4, 3));
        }, 0);

        yield return new OpCase("ScatterRows", "F32 into act,T=10,D=96,n=3", (c, r) =>
        {
            var destination = c.AccumulatorOutput("x", Uniform(r, 10 * 96), 10, 96);
            var source = c.Float(DType.F32, Uniform(r, 3 * 96), 3, 96);
            c.Backend.ScatterRows(source, c.Ints([7, 0, 4]), destination);
        }, 0);
        yield return new OpCase("ScatterRows", "act,odd row,T=8,D=37,n=2", (c, r) =>
        {
            var destination = c.AccumulatorOutput("x", Uniform(r, 8 * 37), 8, 37);
            c.Backend.ScatterRows(c.Act(Uniform(r, 2 * 37), 2, 37), c.Ints([3, 6]), destination);
        }, 0);

        yield return new OpCase("ScatterAddRows", "F32,repeated indices,T=6,D=64,n=5", (c, r) =>
        {
            var destination = F32Accumulator(c, "y", Uniform(r, 6 * 64), 6, 64);
            var source = c.Float(DType.F32, Uniform(r, 5 * 64), 5, 64);
            c.Backend.ScatterAddRows(source, c.Ints([2, 0, 2, 5, 2]), destination);
        }, Tolerances.F32);
        yield return new OpCase("ScatterAddRows", "act,repeated indices,T=9,D=4096,n=4", (c, r) =>
        {
            var destination = c.AccumulatorOutput("y", Uniform(r, 9 * 4096), 9, 4096);
            c.Backend.ScatterAddRows(c.Act(Uniform(r, 4 * 4096), 4, 4096), c.Ints([1, 8, 3, 1]), destination);
        }, Tolerances.Bf16Elementwise);
        yield return new OpCase("ScatterAddRows", "act into F32,T=4,D=40,n=3", (c, r) =>
        {
            var destination = F32Accumulator(c, "grad", Uniform(r, 4 * 40), 4, 40);
            c.Backend.ScatterAddRows(c.Act(Uniform(r, 3 * 40), 3, 40), c.Ints([3, 3, 0]), destination);
        }, Tolerances.F32);

        yield return new OpCase("ZeroRows", "act,T=6,D=50", (c, r) =>
        {
            var destination = c.AccumulatorOutput("x", Uniform(r, 6 * 50), 6, 50);
            c.Backend.ZeroRows(c.Ints([1, 4]), destination);
        }, 0);
        yield return new OpCase("ZeroRows", "I32,T=5,D=3", (c, r) =>
        {
            var destination = c.Output("x", DType.I32, 5, 3);
            c.Backend.Upload<int>(Enumerable.Range(0, 15).Select(_ => r.Next(1, 100)).ToArray(), destination);
            c.Backend.ZeroRows(c.Ints([0, 3]), destination);
        }, 0);
        yield return new OpCase("Zero", "act,3x37", (c, r) =>
        {
            var t = c.AccumulatorOutput("x", Uniform(r, 3 * 37), 3, 37);
            c.Backend.Zero(t);
        }, 0);
        yield return new OpCase("Zero", "F32,1001", (c, r) =>
        {
            var t = F32Accumulator(c, "x", Uniform(r, 1001), 1001);
            c.Backend.Zero(t);
        }, 0);

        yield return new OpCase("KvStore", "rows=[5,3],Hkv=2,Dh=16,capacity=8,tags", (c, r) =>
        {
            var (rows, pos) = Packed(5, 3);
            var tokens = new TokenMap(c.Ints(rows), c.Ints(pos), c.Ints(rows.Select(_ => r.Next(3)).ToArray()));
            var keys = c.AccumulatorOutput("cache.k", Uniform(r, 2 * 2 * 8 * 16), 2, 2, 8, 16);
            var values = c.AccumulatorOutput("cache.v", Uniform(r, 2 * 2 * 8 * 16), 2, 2, 8, 16);
            var tags = c.Output("cache.tags", DType.I32, 2, 8);
            c.Backend.Upload<int>(new int[16], tags);
            c.Backend.KvStore(c.Act(Uniform(r, 8 * 2 * 16), 8, 2, 16), c.Act(Uniform(r, 8 * 2 * 16), 8, 2, 16), tokens,
                new KvLayer(keys, values, tags));
        }, 0);
    }

    /// <summary>An F32 output that an op adds into or overwrites in part, starting from the given values.</summary>
    public static Tensor F32Accumulator(CaseContext c, string name, float[] initial, params int[] shape)
    {
        var t = c.Output(name, DType.F32, shape);
        c.Backend.Upload<float>(c.Stored(initial), t);
        return t;
    }
}
