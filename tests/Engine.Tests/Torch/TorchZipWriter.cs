using System.IO.Compression;
using System.Text;

namespace CoAR.Engine.Tests.Torch;

/// <summary>
/// Writes checkpoint files the way torch.save lays them out: a zip of {name}/data.pkl, {name}/byteorder,
/// {name}/data/{key} per storage, {name}/version and {name}/.data/serialization_id, stored uncompressed
/// (or deflated, to exercise that path).
/// </summary>
internal static class TorchZipWriter
{
    internal static void Save(string path, object? root, string archiveName = "archive",
        CompressionLevel compression = CompressionLevel.NoCompression, string? byteOrder = "little")
    {
        var (pickle, storages) = TorchPickleWriter.Dump(root);
        Write(path, pickle, storages.ToDictionary(kv => kv.Key, kv => kv.Value.Data), archiveName, compression, byteOrder);
    }

    internal static void Write(string path, byte[] pickle, IReadOnlyDictionary<string, byte[]> storages,
        string archiveName = "archive", CompressionLevel compression = CompressionLevel.NoCompression,
        string? byteOrder = "little")
    {
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        void Record(string name, byte[] data)
        {
            ZipArchiveEntry entry = zip.CreateEntry($"{archiveName}/{name}", compression);
            using Stream stream = entry.Open();
            stream.Write(data);
        }
        Record("data.pkl", pickle);
        if (byteOrder is not null)
            Record("byteorder", Encoding.ASCII.GetBytes(byteOrder));
        foreach (var (key, data) in storages.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            Record($"data/{key}", data);
        Record("version", "3\n"u8.ToArray());
        Record(".data/serialization_id", "0123456789012345678901234567890123456789"u8.ToArray());
    }
}
