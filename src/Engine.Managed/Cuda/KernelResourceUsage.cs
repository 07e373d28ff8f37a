namespace CoAR.Engine.Managed.Cuda;

/// <summary>What a compiled kernel uses per thread and per block; LocalBytes above 0 means registers spilled.</summary>
public readonly record struct KernelResourceUsage(int Registers, int StaticSharedBytes, int LocalBytes, int MaxThreadsPerBlock);
