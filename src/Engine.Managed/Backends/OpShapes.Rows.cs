using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>The row moves by index: embedding, gather, scatter and zeroed rows.</summary>
public static partial class OpShapes
{
    /// <summary>table [V, D], ids [T], output [T, D].</summary>
    public static (int Vocab, int D, int T) Embedding(string op, Tensor table, Tensor ids, Tensor output)
    {
        OpCheck.Rank(op, "table", table, 2);
        int vocab = table.Dim(0), d = table.Dim(1), t = ids.Dim(0);
        OpCheck.Shape(op, "ids", ids, t);
        OpCheck.Shape(op, "output", output, t, d);
        return (vocab, d, t);
    }

    /// <summary>x [rows, D], indices [n], output [n, D] apart from x.</summary>
    public static (int Rows, int D, int N) GatherRows(string op, Tensor x, Tensor indices, Tensor output)
    {
        OpCheck.Rank(op, "x", x, 2);
        int rows = x.Dim(0), d = x.Dim(1), n = indices.Dim(0);
        OpCheck.Shape(op, "output", output, n, d);
        OpCheck.NoAlias(op, "x", x, "output", output);
        return (rows, d, n);
    }

    /// <summary>ScatterRows and ScatterAddRows: source [n, D], indices [n], destination [*, D] apart from source.</summary>
    public static (int N, int D) ScatterRows(string op, Tensor source, Tensor indices, Tensor destination)
    {
        OpCheck.Rank(op, "source", source, 2);
        int n = source.Dim(0), d = source.Dim(1);
        OpCheck.Shape(op, "indices", indices, n);
        OpCheck.Shape(op, "destination", destination, -1, d);
        OpCheck.NoAlias(op, "source", source, "destination", destination);
        return (n, d);
    }

    /// <summary>indices [n], destination [rows, D] (any dtype).</summary>
    public static (int N, int Rows) ZeroRows(string op, Tensor indices, Tensor destination)
    {
        OpCheck.Rank(op, "indices", indices, 1);
        OpCheck.Rank(op, "destination", destination, 2);
        return (indices.Dim(0), destination.Dim(0));
    }
}
