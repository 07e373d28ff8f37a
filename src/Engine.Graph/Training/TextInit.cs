namespace CoAR.Engine.Graph.Training;

/// <summary>Where the text context tokens start.</summary>
public enum TextInit
{
    /// <summary>At the frozen model's hidden state of the class noun's last token in the class prompt, layer by layer (CoAR's DECISION).</summary>
    ClassNoun,

    /// <summary>
    /// Gaussian, seeded, with the root-mean-square of the class prompt's token embeddings as its standard deviation, so
    /// the vector starts at the scale of a real token (PersonalAR's random initialization).
    /// </summary>
    Random,
}
