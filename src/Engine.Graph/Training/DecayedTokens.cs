namespace CoAR.Engine.Graph.Training;

/// <summary>Which of a concept's context tokens the weight decay applies to.</summary>
public enum DecayedTokens
{
    All,
    Text,
    Image,
    None,
}
