namespace CoAR.Engine.Graph.Model;

/// <summary>A model directory or file that does not hold what the engine expects; the message names the file and item.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string message) : base(message)
    {
    }

    public ModelFormatException(string message, Exception inner) : base(message, inner)
    {
    }
}
