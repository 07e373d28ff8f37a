namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// A row of logits with no finite value to sample from: the model computed NaN or infinity, which with a working engine
/// means its weights hold NaN/Inf values, or the guidance scale is so large that the guided logits overflow.
/// </summary>
public sealed class NonFiniteLogitsException : ArithmeticException
{
    private const string Cause = "the checkpoint's weights hold NaN or infinite values, or --cfg is so large that the guided logits overflow";

    public NonFiniteLogitsException()
        : base("every logit of a row is -inf or NaN, so nothing can be sampled: " + Cause)
    {
    }

    /// <param name="where">Which image and token had nothing to draw.</param>
    public NonFiniteLogitsException(string where)
        : base($"{where}: every logit is -inf or NaN, so nothing can be sampled: {Cause}")
    {
    }
}
