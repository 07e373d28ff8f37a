namespace CoAR.Engine.Managed.Cuda;

/// <summary>Byte counts for people: binary units with two decimals ("1.50 GiB", "512 bytes").</summary>
public static class ByteSize
{
    public static string Format(ulong bytes)
    {
        string[] units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} bytes" : $"{value:0.00} {units[unit]}";
    }

    public static string Format(long bytes) => Format((ulong)Math.Max(0, bytes));
}
