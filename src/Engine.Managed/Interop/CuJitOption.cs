namespace CoAR.Engine.Managed.Interop;

/// <summary>The CUjit_option values used when loading a module (numbers from cuda.h).</summary>
internal enum CuJitOption
{
    InfoLogBuffer = 3,
    InfoLogBufferSizeBytes = 4,
    ErrorLogBuffer = 5,
    ErrorLogBufferSizeBytes = 6,
}
