namespace CoAR.Engine.Managed.Interop;

/// <summary>The CUfunction_attribute values the engine reads or sets (numbers from cuda.h).</summary>
internal enum CuFunctionAttribute
{
    MaxThreadsPerBlock = 0,
    SharedSizeBytes = 1,
    LocalSizeBytes = 3,
    NumRegisters = 4,
    MaxDynamicSharedSizeBytes = 8,
}
