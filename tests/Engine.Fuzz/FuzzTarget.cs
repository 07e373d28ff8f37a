namespace CoAR.Engine.Fuzz;

/// <summary>
/// One reader under fuzzing: <see cref="Run"/> feeds it bytes as a user's file would; the exceptions in
/// <see cref="Expected"/> are its documented "bad input" errors (they become exit code 2 or 3), anything else escaping
/// is a finding.
/// </summary>
public sealed record FuzzTarget(string Name, string Reader, Action<byte[]> Run, params Type[] Expected)
{
    /// <summary>Runs one input; true when it was accepted or refused with an expected error.</summary>
    public bool Accepts(byte[] input, out Exception? unexpected) => Accepts(input, out _, out unexpected);

    /// <summary>As <see cref="Accepts(byte[], out Exception?)"/>, also giving the expected error that refused the input, if one did.</summary>
    public bool Accepts(byte[] input, out Exception? refusal, out Exception? unexpected)
    {
        unexpected = refusal = null;
        try
        {
            Run(input);
            return true;
        }
        catch (Exception e) when (Expected.Any(t => t.IsInstanceOfType(e)))
        {
            refusal = e;
            return true;
        }
        catch (Exception e)
        {
            unexpected = e;
            return false;
        }
    }
}
