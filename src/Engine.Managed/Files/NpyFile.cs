using System.Runtime.InteropServices;
using System.Text;

namespace CoAR.Engine.Managed.Files;

/// <summary>NumPy's .npy format (version 1.0) for float32 arrays, so numpy.load reads what the engine dumps.</summary>
public static class NpyFile
{
    public static void WriteFloat32(string path, ReadOnlySpan<float> data, params int[] shape)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count != data.Length)
            throw new ArgumentException($"{path}: shape [{string.Join(", ", shape)}] holds {count} values, got {data.Length}");
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        // Magic (6) + version (2) + header length (2) + header + padding + '\n' is a multiple of 64 bytes.
        int unpadded = 10 + header.Length + 1;
        header += new string(' ', (64 - unpadded % 64) % 64) + "\n";
        var bytes = MemoryMarshal.AsBytes(data).ToArray();
        AtomicFile.Write(path, s =>
        {
            s.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
            s.Write(BitConverter.GetBytes((ushort)header.Length));
            s.Write(Encoding.ASCII.GetBytes(header));
            s.Write(bytes);
        });
    }

    /// <summary>Reads a float32 .npy written by <see cref="WriteFloat32"/> (or numpy, little-endian, C order).</summary>
    public static (float[] Data, int[] Shape) ReadFloat32(string path)
    {
        var bytes = InputFile.ReadAllBytes(path, int.MaxValue, ".npy file");
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new InvalidDataException($"{path}: not a .npy file (bad magic)");
        int headerLength = BitConverter.ToUInt16(bytes, 8);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        if (!header.Contains("'<f4'") || header.Contains("'fortran_order': True"))
            throw new InvalidDataException($"{path}: expected little-endian float32 in C order, header is {header.Trim()}");
        int open = header.IndexOf('(', StringComparison.Ordinal), close = header.IndexOf(')', StringComparison.Ordinal);
        var shape = header[(open + 1)..close].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(int.Parse).ToArray();
        int offset = 10 + headerLength;
        var data = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(offset)).ToArray();
        return (data, shape);
    }
}
