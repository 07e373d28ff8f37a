using System.Text.Json.Serialization;

namespace CoAR.Engine.Graph.Training;

/// <summary>The JSON that training writes and reads (class-image token files, final losses), source-generated so it works in NativeAOT (libcoar).</summary>
[JsonSerializable(typeof(int[]))]
[JsonSerializable(typeof(Dictionary<string, double>))]
internal sealed partial class TrainingJson : JsonSerializerContext;
