using CoAR.Engine.Managed.Files;
using System.IO.Compression;

namespace CoAR.Engine.Managed.Torch;

/// <summary>
/// The zip container torch.save has written since PyTorch 1.6: <c>{name}/data.pkl</c>, <c>{name}/data/{key}</c> raw
/// storages, <c>{name}/version</c>, maybe <c>{name}/byteorder</c>. Records are usually stored uncompressed; deflated
/// ones are read too.
/// </summary>
internal sealed class TorchArchive : IDisposable
{
    private readonly ZipArchive _zip;
    private readonly string _prefix;

    private TorchArchive(string path, ZipArchive zip, string prefix)
    {
        Path = path;
        _zip = zip;
        _prefix = prefix;
    }

    internal string Path { get; }

    /// <summary>The record prefix, e.g. "archive/".</summary>
    internal string Prefix => _prefix;

    internal static TorchArchive Open(string path)
    {
        InputFile.CheckRegular(path, "checkpoint");
        CheckSignature(path);
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a readable zip archive ({e.Message})", e);
        }
        try
        {
            var pickles = zip.Entries
                .Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                            && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length)
                .ToList();
            if (pickles.Count != 1)
                throw new InvalidDataException(pickles.Count == 0
                    ? $"{path}: no <name>/data.pkl record, so this zip is not a torch.save checkpoint"
                    : $"{path}: {pickles.Count} data.pkl records ({string.Join(", ", pickles.Select(p => p.FullName))})");
            string prefix = pickles[0].FullName[..^"data.pkl".Length];
            return new TorchArchive(path, zip, prefix);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    internal bool Has(string record) => _zip.GetEntry(_prefix + record) is not null;

    internal long Length(string record) => Entry(record).Length;

    internal byte[] Read(string record)
    {
        ZipArchiveEntry entry = Entry(record);
        if (entry.Length > Array.MaxLength)
            throw new InvalidDataException($"{Path}: record {entry.FullName} is {entry.Length} bytes, more than one array holds");
        CheckPlausibleSize(entry);
        var bytes = new byte[entry.Length];
        using (Stream stream = entry.Open())
        {
            try
            {
                stream.ReadExactly(bytes);
            }
            catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
            {
                throw new InvalidDataException($"{Path}: record {entry.FullName} is truncated or corrupt ({e.Message})", e);
            }
        }
        return bytes;
    }

    /// <summary>
    /// A record's size comes from the zip's directory, which a damaged or hostile file can set to anything: before
    /// allocating it, it must fit what the archive can hold. A stored record (what torch.save writes) is exactly its
    /// compressed size; deflate expands at most 1032:1; neither can be larger than the file holds.
    /// </summary>
    private void CheckPlausibleSize(ZipArchiveEntry entry)
    {
        long fileLength = new FileInfo(Path).Length;
        bool stored = entry.CompressedLength == entry.Length;
        if (entry.CompressedLength > fileLength || (!stored && entry.Length > entry.CompressedLength * 1032L + 1024))
            throw new InvalidDataException($"{Path}: record {entry.FullName} claims {entry.Length} bytes from {entry.CompressedLength} "
                                           + $"compressed bytes in a {fileLength}-byte file: the archive is corrupt");
    }

    public void Dispose() => _zip.Dispose();

    private ZipArchiveEntry Entry(string record) =>
        _zip.GetEntry(_prefix + record)
        ?? throw new InvalidDataException($"{Path}: record {_prefix + record} is missing from the archive");

    private static void CheckSignature(string path)
    {
        Span<byte> head = stackalloc byte[4];
        int read;
        using (var file = File.OpenRead(path))
            read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read == 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4)
            return;
        if (read >= 2 && head[0] == 0x80 && head[1] <= 5)
            throw new InvalidDataException($"{path}: a legacy (before PyTorch 1.6) torch.save file, which is not supported; "
                                           + "re-save it with a current PyTorch (torch.save(torch.load(f), f))");
        throw new InvalidDataException($"{path}: not a torch.save checkpoint (no zip signature)");
    }
}
