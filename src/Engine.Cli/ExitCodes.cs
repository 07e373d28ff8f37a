namespace CoAR.Engine.Cli;

/// <summary>What `coar` exits with, so scripts can tell failures apart.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>An internal error: a bug, or something the engine did not foresee.</summary>
    public const int Failure = 1;
    /// <summary>Command-line usage error (System.CommandLine's parse errors also exit with this).</summary>
    public const int Usage = 2;
    /// <summary>A model, checkpoint, image or other input file is missing or malformed.</summary>
    public const int BadInput = 3;
    /// <summary>The requested device (a GPU) is not available.</summary>
    public const int DeviceUnavailable = 4;
    /// <summary>An output could not be written (disk full, read-only, no permission); the previous files are intact.</summary>
    public const int OutputFailed = 5;
    /// <summary>Interrupted (Ctrl+C); finished work is kept, nothing half-written is left.</summary>
    public const int Cancelled = 130;
}
