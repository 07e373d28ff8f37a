namespace CoAR.Engine.Managed.Backends;

/// <summary>The device asked for cannot be used here; the message says why (driver missing, no GPU, ...).</summary>
public sealed class DeviceUnavailableException(string message) : Exception(message);
