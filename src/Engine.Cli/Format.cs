using System.Globalization;

namespace CoAR.Engine.Cli;

public static class Format
{
    /// <summary>Bytes in binary units: "14.03 GB" style but with GiB/MiB to say what is meant.</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }
        return u == 0 ? $"{bytes} B" : v.ToString(v >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture) + " " + units[u];
    }

    /// <summary>A moment in UTC to the minute: "2025-06-01 12:00 UTC".</summary>
    public static string Timestamp(DateTimeOffset moment) =>
        moment.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + " UTC";
}
