using CoAR.Engine.Managed.Torch;

namespace CoAR.Engine.Tools.Vqgan;

/// <summary>Writes a list of named tensors to one file (safetensors in production; tests capture them in memory).</summary>
public delegate void TensorFileWriter(IReadOnlyList<CheckpointTensor> tensors, string path);
