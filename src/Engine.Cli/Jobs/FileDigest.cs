using System.Security.Cryptography;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>What identifies an input file's contents in a job manifest: the first 16 hex digits of its SHA-256, or "missing".</summary>
internal static class FileDigest
{
    public static string Of(string path, long maxBytes, string what) =>
        File.Exists(path) ? Convert.ToHexStringLower(SHA256.HashData(InputFile.ReadAllBytes(path, maxBytes, what)))[..16] : "missing";
}
