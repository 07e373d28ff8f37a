namespace CoAR.Engine.Managed.Backends;

public enum BackendKind
{
    Cpu,
    Cuda,
}
