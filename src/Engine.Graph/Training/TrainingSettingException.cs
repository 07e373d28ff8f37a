namespace CoAR.Engine.Graph.Training;

/// <summary>
/// A training setting that cannot work (on its own, or with the model it is for). <see cref="ArgumentException.ParamName"/>
/// names the <see cref="TrainingSettings"/> property at fault, so a front end can name its own option instead.
/// </summary>
public sealed class TrainingSettingException(string setting, string message) : ArgumentException(message, setting)
{
    public string Setting => ParamName!;

    /// <summary>The message without the " (Parameter 'X')" suffix ArgumentException adds.</summary>
    public string Reason { get; } = message;
}
