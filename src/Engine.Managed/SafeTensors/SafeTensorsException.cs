namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>A safetensors file, index or checkpoint that cannot be read or written; the message names the file and tensor.</summary>
public sealed class SafeTensorsException : Exception
{
    public SafeTensorsException(SafeTensorsError kind, string filePath, string? tensorName, string detail, Exception? inner = null)
        : base(Compose(filePath, tensorName, detail), inner)
    {
        Kind = kind;
        FilePath = filePath;
        TensorName = tensorName;
    }

    public SafeTensorsError Kind { get; }

    public string FilePath { get; }

    public string? TensorName { get; }

    private static string Compose(string filePath, string? tensorName, string detail) =>
        tensorName is null ? $"{filePath}: {detail}" : $"{filePath}: tensor '{tensorName}': {detail}";
}
