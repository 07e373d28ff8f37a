namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// A row of logits with no finite value to sample from: the model computed NaN or infinity, which with a working engine
/// means its weights hold NaN/Inf values, or the guidance scale is so large that the guided logits overflow.
/// </summary>
public sealed class NonFiniteLogitsException() : ArithmeticException(
    "every logit of a row is -inf or NaN, so nothing can be sampled: the checkpoint's weights hold NaN or infinite values, "
    + "or --cfg is so large that the guided logits overflow");
