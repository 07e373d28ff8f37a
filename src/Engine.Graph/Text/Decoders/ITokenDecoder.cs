namespace CoAR.Engine.Graph.Text.Decoders;

/// <summary>One step of tokenizer.json's "decoder": rewrites the list of token strings; the result is joined.</summary>
internal interface ITokenDecoder
{
    List<string> DecodeChain(List<string> tokens);
}
