using System.CommandLine;
using CoAR.Engine.Tools;

namespace CoAR.Engine.Cli;

/// <summary>--model DIR; without it, the built-in tiny model (created on first use).</summary>
public static class ModelOption
{
    public static Option<string?> Create() => new("--model", "-m")
    {
        Description = "Model directory (config.json + safetensors shards). Default: the built-in tiny model (random weights)",
    };

    public static string Resolve(string? value)
    {
        if (value is null)
            return BuiltInModel.EnsureCreated();
        if (!Directory.Exists(value))
            throw new DirectoryNotFoundException($"--model '{value}': no such directory (expected a folder with config.json and model*.safetensors)");
        return value;
    }
}
