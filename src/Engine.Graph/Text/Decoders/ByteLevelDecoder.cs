using System.Text;

namespace CoAR.Engine.Graph.Text.Decoders;

/// <summary>
/// Turns byte-level characters back into bytes and the whole chain into one UTF-8 string (invalid sequences become
/// U+FFFD). A token with a character outside the byte alphabet contributes its own UTF-8 bytes.
/// </summary>
internal sealed class ByteLevelDecoder : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string token in tokens)
        {
            int mark = bytes.Count;
            foreach (char c in token)
            {
                if (!ByteLevelAlphabet.TryCharToByte(c, out byte b))
                {
                    bytes.RemoveRange(mark, bytes.Count - mark);
                    bytes.AddRange(Encoding.UTF8.GetBytes(token));
                    break;
                }
                bytes.Add(b);
            }
        }
        return [Encoding.UTF8.GetString(bytes.ToArray())];
    }
}
