using CoAR.Engine.Graph.Training;

namespace CoAR.Engine.Cli;

/// <summary>
/// A library setting that cannot work (an <see cref="ArgumentException"/> whose ParamName is the setting's property)
/// becomes a usage error (exit 2) naming the command-line option the value came from.
/// </summary>
internal static class SettingErrors
{
    public static T AsUsage<T>(IReadOnlyDictionary<string, string> optionOf, Func<T> body)
    {
        try
        {
            return body();
        }
        catch (ArgumentException e) when (e.ParamName is { } setting && (optionOf.ContainsKey(setting) || e is TrainingSettingException))
        {
            string option = optionOf.GetValueOrDefault(setting, setting);
            string reason = e is TrainingSettingException t ? t.Reason : e.Message.Replace($" (Parameter '{setting}')", "", StringComparison.Ordinal);
            throw new UsageException($"{option}: {reason}");
        }
    }

    public static void AsUsage(IReadOnlyDictionary<string, string> optionOf, Action body) => AsUsage(optionOf, () =>
    {
        body();
        return 0;
    });
}
