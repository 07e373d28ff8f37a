using System.Globalization;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>Copies the hidden state at chosen positions at the input of each of the first layers of a forward pass.</summary>
public sealed class LayerInputCapture(IBackend backend, int layers, int[] positions) : IActivationObserver
{
    public float[][] Rows { get; } = new float[layers][];

    public void Observe(string name, Tensor value)
    {
        int layer;
        if (name == "tok_embd") layer = 0;
        else if (name.StartsWith("blk.", StringComparison.Ordinal) && name.EndsWith(".out", StringComparison.Ordinal))
            layer = int.Parse(name.AsSpan(4, name.Length - 8), CultureInfo.InvariantCulture) + 1;
        else return;
        if (layer >= layers) return;
        int d = value.Dim(1);
        var all = TensorReader.ReadFloats(backend, value);
        var rows = new float[positions.Length * d];
        for (int i = 0; i < positions.Length; i++)
            all.AsSpan(positions[i] * d, d).CopyTo(rows.AsSpan(i * d, d));
        Rows[layer] = rows;
    }
}
