namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/rope.cu: the rotary position embedding, forward and inverse.</summary>
internal static class RopeKernels
{
    private const string File = "rope.cu";

    public static readonly ByDType<RopeArgs> Rope = new(File, "rope");

    public struct RopeArgs
    {
        public ulong Y, X, Positions;
        public int Heads, Dh;
        public float Theta, Direction;
        public int Vec;
    }
}
