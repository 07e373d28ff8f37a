using System.Buffers.Binary;
using System.Security.Cryptography;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// Compiled kernel images on disk, one file per (source, headers, options, architecture, NVRTC version) key. A file is
/// a header (magic, key, payload length, payload SHA-256) and the payload; anything that does not check out is
/// reported as rejected so the caller rebuilds it. Files are written to a temp name and renamed, so readers never see
/// half a file.
/// </summary>
public sealed class KernelCache
{
    /// <summary>"COARKRN" and a format version byte.</summary>
    private static ReadOnlySpan<byte> Magic => "COARKRN\u0001"u8;

    private const int KeyBytes = 32;
    private const int HeaderBytes = 8 + KeyBytes + 8 + KeyBytes;

    public KernelCache(string directory)
    {
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    /// <summary>$COAR_KERNEL_CACHE, else $XDG_CACHE_HOME/coar/kernels, else ~/.cache/coar/kernels.</summary>
    public static string DefaultDirectory()
    {
        if (Environment.GetEnvironmentVariable("COAR_KERNEL_CACHE") is { Length: > 0 } explicitDirectory)
            return explicitDirectory;
        var cacheHome = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cacheHome, "coar", "kernels");
    }

    public string PathFor(string fileName) => Path.Combine(Directory, fileName);

    /// <summary>
    /// Reads a cached payload. False with a null rejection when there is no such file; false with the reason when the
    /// file exists but is damaged or holds another key.
    /// </summary>
    public bool TryRead(string fileName, ReadOnlySpan<byte> key, out byte[] payload, out string? rejection)
    {
        payload = [];
        rejection = null;
        var path = PathFor(fileName);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        rejection = Validate(bytes, key);
        if (rejection is not null)
        {
            rejection = $"{path}: {rejection}";
            return false;
        }
        payload = bytes[HeaderBytes..];
        return true;
    }

    /// <summary>Writes a payload under its key, atomically (temp file in the same directory, then rename).</summary>
    public void Write(string fileName, ReadOnlySpan<byte> key, ReadOnlySpan<byte> payload)
    {
        if (key.Length != KeyBytes)
            throw new ArgumentException($"a cache key is {KeyBytes} bytes (SHA-256), got {key.Length}", nameof(key));
        System.IO.Directory.CreateDirectory(Directory);
        var header = new byte[HeaderBytes];
        Magic.CopyTo(header);
        key.CopyTo(header.AsSpan(8));
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8 + KeyBytes), payload.Length);
        SHA256.HashData(payload, header.AsSpan(16 + KeyBytes));

        var path = PathFor(fileName);
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(header);
                stream.Write(payload);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>How many cache files there are and their total size (0, 0 when the directory does not exist).</summary>
    public (int Files, long Bytes) Usage()
    {
        if (!System.IO.Directory.Exists(Directory))
            return (0, 0);
        var files = new DirectoryInfo(Directory).GetFiles();
        return (files.Length, files.Sum(f => f.Length));
    }

    private static string? Validate(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> key)
    {
        if (bytes.Length < HeaderBytes)
            return $"truncated: {bytes.Length} bytes, shorter than the {HeaderBytes}-byte header";
        if (!bytes[..8].SequenceEqual(Magic))
            return "not a CoAR kernel cache file (bad magic)";
        if (!bytes.Slice(8, KeyBytes).SequenceEqual(key))
            return "holds another key";
        long length = BinaryPrimitives.ReadInt64LittleEndian(bytes.Slice(8 + KeyBytes, 8));
        if (length != bytes.Length - HeaderBytes)
            return $"truncated or padded: header says {length} payload bytes, file has {bytes.Length - HeaderBytes}";
        Span<byte> hash = stackalloc byte[KeyBytes];
        SHA256.HashData(bytes[HeaderBytes..], hash);
        return hash.SequenceEqual(bytes.Slice(16 + KeyBytes, KeyBytes)) ? null : "payload does not match its SHA-256 (corrupt)";
    }
}
