using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Torch;

namespace CoAR.Engine.Tools.Vqgan;

/// <summary>Writes converted or generated VQGAN tensors as one safetensors file (atomically).</summary>
public static class SafetensorsOutput
{
    public static void Write(IReadOnlyList<CheckpointTensor> tensors, string path)
    {
        var writer = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
        foreach (var t in tensors)
            writer.Add(t.Name, t.DType, t.Shape, t.Data);
        writer.WriteTo(path);
    }
}
