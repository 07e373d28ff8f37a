namespace CoAR.Engine.Graph.Model;

/// <summary>How far a model load has come: tensors and bytes made ready on the backend so far.</summary>
public readonly record struct ModelLoadProgress(int TensorsDone, int TensorsTotal, long BytesDone, long BytesTotal, string Current);
