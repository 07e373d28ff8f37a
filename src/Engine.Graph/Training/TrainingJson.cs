using System.Text.Json.Serialization;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// The JSON that training writes and reads (class-image token files and their key, settings, final losses),
/// source-generated so it needs no reflection (NativeAOT hosts); enums by name.
/// </summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(int[]))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(TrainingSettings))]
[JsonSerializable(typeof(TrainingData.ClassImageKey))]
internal sealed partial class TrainingJson : JsonSerializerContext;
