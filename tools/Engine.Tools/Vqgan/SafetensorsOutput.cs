using CoAR.Engine.Managed.Torch;

namespace CoAR.Engine.Tools.Vqgan;

/// <summary>
/// The one place the VQGAN tools hand tensors to CoAR.Engine.Managed.SafeTensors.SafeTensorsWriter
/// (Add(name, dtype, shape, data) per tensor, then WriteTo(path), which is atomic).
/// </summary>
public static class SafetensorsOutput
{
    public static void Write(IReadOnlyList<CheckpointTensor> tensors, string path) =>
        throw new NotSupportedException(
            $"cannot write {path}: the safetensors writer (CoAR.Engine.Managed.SafeTensors) is not merged into this build");
}
