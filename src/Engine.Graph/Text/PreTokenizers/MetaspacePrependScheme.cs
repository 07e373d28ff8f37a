namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>When Metaspace puts its replacement character in front of a piece.</summary>
internal enum MetaspacePrependScheme
{
    /// <summary>In front of every piece.</summary>
    Always,

    /// <summary>Only in front of the piece that starts the text (not after an added token).</summary>
    First,

    Never,
}
