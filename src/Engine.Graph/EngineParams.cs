namespace CoAR.Engine.Graph;

/// <summary>
/// What a host hands the engine to load a model.
/// </summary>
/// <param name="ModelDir">A Lumina-mGPT checkpoint directory: config.json, model*.safetensors (+ index), tokenizer.json.</param>
/// <param name="Device">auto | cpu | cuda | cuda:N.</param>
/// <param name="VqganDir">Where vqgan.safetensors and vqgan.json are; null: the model directory.</param>
/// <param name="TargetSize">The checkpoint's training resolution (512, 768 or 1024): bounds the image area the prompt may ask for.</param>
public sealed record EngineParams(string ModelDir, string Device = "auto", string? VqganDir = null, int TargetSize = 768);
