using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Managed.Backends.SelfTest;

/// <summary>
/// Device self-test results on disk, one JSON file per <see cref="DeviceIdentity.Key"/>, written atomically (a reader
/// sees the old result or the whole new one). A file that cannot be read or holds another identity counts as absent:
/// the self-test runs again and replaces it.
/// </summary>
public sealed class SelfTestCache(string directory)
{
    private const int Format = 1;

    /// <summary>The directory the results live in.</summary>
    public string Directory { get; } = Path.GetFullPath(directory);

    /// <summary>self-test/ under the coar cache directory (<see cref="CoarDirectories.Cache"/>).</summary>
    public static SelfTestCache Default() => new(Path.Combine(CoarDirectories.Cache(), "self-test"));

    public string PathFor(DeviceIdentity identity) => Path.Combine(Directory, $"{identity.Key}.json");

    /// <summary>The kept result for the identity, or null.</summary>
    public SelfTestResult? TryLoad(DeviceIdentity identity)
    {
        try
        {
            var result = Read(File.ReadAllBytes(PathFor(identity)));
            return result.Identity == identity ? result : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException
                                      or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// The kept result for the identity, or a fresh one from <paramref name="run"/> (always fresh with
    /// <paramref name="rerun"/>), kept for next time. <paramref name="keepError"/> says why a fresh result could not be
    /// kept (a read-only cache directory): it is still returned, and the self-test will run again next time.
    /// </summary>
    public SelfTestResult GetOrRun(DeviceIdentity identity, Func<SelfTestResult> run, bool rerun, out bool ranNow, out string? keepError)
    {
        keepError = null;
        if (!rerun && TryLoad(identity) is { } kept)
        {
            ranNow = false;
            return kept;
        }
        var result = run();
        ranNow = true;
        try
        {
            Save(result);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            keepError = $"the self-test result could not be kept in {Directory}: {e.Message}";
        }
        return result;
    }

    public void Save(SelfTestResult result) => AtomicFile.Write(PathFor(result.Identity), stream => Write(result, stream));

    private static void Write(SelfTestResult result, Stream stream)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteNumber("format", Format);
        WriteProperties(json, result);
        json.WriteEndObject();
    }

    /// <summary>A result's properties (identity, verdict, time, checks) into the JSON object being written (also `coar info --json`).</summary>
    public static void WriteProperties(Utf8JsonWriter json, SelfTestResult result)
    {
        var id = result.Identity;
        json.WriteStartObject("identity");
        json.WriteString("device", id.Device);
        json.WriteString("computeCapability", id.ComputeCapability);
        json.WriteString("driver", id.Driver);
        json.WriteString("kernelCompiler", id.KernelCompiler);
        json.WriteString("kernelSources", id.KernelSources);
        json.WriteString("engine", id.Engine);
        json.WriteEndObject();
        json.WriteBoolean("passed", result.Passed);
        json.WriteString("ranAt", result.RanAt.ToString("O", CultureInfo.InvariantCulture));
        json.WriteNumber("seconds", Math.Round(result.Seconds, 3));
        json.WriteStartArray("checks");
        foreach (var check in result.Checks)
        {
            json.WriteStartObject();
            json.WriteString("name", check.Name);
            json.WriteBoolean("passed", check.Passed);
            json.WriteString("detail", check.Detail);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static SelfTestResult Read(byte[] bytes)
    {
        using var document = JsonDocument.Parse(bytes);
        var root = document.RootElement;
        if (root.GetProperty("format").GetInt32() != Format)
            throw new FormatException("another self-test file format");
        var id = root.GetProperty("identity");
        string Text(JsonElement e, string name) => e.GetProperty(name).GetString() ?? throw new FormatException($"{name} is null");
        var identity = new DeviceIdentity(Text(id, "device"), Text(id, "computeCapability"), Text(id, "driver"), Text(id, "kernelCompiler"),
            Text(id, "kernelSources"), Text(id, "engine"));
        var checks = root.GetProperty("checks").EnumerateArray()
            .Select(c => new SelfTestCheck(Text(c, "name"), c.GetProperty("passed").GetBoolean(), Text(c, "detail")))
            .ToList();
        var ranAt = DateTimeOffset.Parse(Text(root, "ranAt"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        var result = new SelfTestResult(identity, ranAt, root.GetProperty("seconds").GetDouble(), checks);
        if (result.Passed != root.GetProperty("passed").GetBoolean())
            throw new FormatException("the verdict does not agree with the checks");
        return result;
    }
}
