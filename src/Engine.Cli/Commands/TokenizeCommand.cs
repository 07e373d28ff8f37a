using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CoAR.Engine.Graph.Text;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>
/// <c>coar tokenize TEXT [--tokenizer PATH] [--json]</c>: the token ids and strings of a text. Exit code 0, or
/// <see cref="ExitCodes.BadInput"/> when the tokenizer cannot be read.
/// </summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var text = new Argument<string>("text") { Description = "The text to tokenize, as the model's tokenizer sees it (no BOS is added)." };
        var tokenizer = new Option<string?>("--tokenizer")
        {
            Description = "A tokenizer.json, or a model directory holding one (default: the built-in tiny model's)",
        };
        var json = new Option<bool>("--json") { Description = "Print JSON (ids, tokens, decoded pieces) instead of a table." };
        var command = new Command("tokenize", "Show the token ids and token strings a tokenizer.json gives a text.");
        command.Arguments.Add(text);
        command.Options.Add(tokenizer);
        command.Options.Add(json);
        command.SetAction(parse => CommandRunner.Run(parse, () => Run(
            parse.GetValue(text)!,
            parse.GetValue(tokenizer) ?? CoAR.Engine.Tools.BuiltInModel.EnsureCreated(),
            parse.GetValue(json),
            parse.InvocationConfiguration.Output)));
        return command;
    }

    private static int Run(string text, string tokenizerPath, bool asJson, TextWriter output)
    {
        var tokenizer = BpeTokenizer.Load(ResolveTokenizerFile(tokenizerPath));
        var ids = tokenizer.Encode(text).ToArray();
        var tokens = ids.Select(id => tokenizer.IdToToken(id)!).ToArray();
        var pieces = ids.Select(id => tokenizer.Decode([id])).ToArray();
        if (asJson)
            WriteJson(output, tokenizer.SourceName, text, ids, tokens, pieces);
        else
            WriteTable(output, tokenizer.SourceName, ids, tokens, pieces);
        return 0;
    }

    /// <summary>A directory means the tokenizer.json inside it.</summary>
    private static string ResolveTokenizerFile(string path) =>
        Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;

    private static void WriteJson(TextWriter output, string source, string text, int[] ids, string[] tokens, string[] pieces)
    {
        var document = new { tokenizer = source, text, count = ids.Length, ids, tokens, pieces };
        output.WriteLine(JsonSerializer.Serialize(document, new JsonSerializerOptions
        {
            WriteIndented = true,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }));
    }

    private static void WriteTable(TextWriter output, string source, int[] ids, string[] tokens, string[] pieces)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        var table = new Table().AddColumn("#").AddColumn(new TableColumn("id").RightAligned()).AddColumn("token").AddColumn("text");
        for (int i = 0; i < ids.Length; i++)
            table.AddRow(i.ToString(), ids[i].ToString(), Markup.Escape(Printable(tokens[i])), Markup.Escape(Printable(pieces[i])));
        console.Write(table);
        console.MarkupLine($"{ids.Length} tokens ({Markup.Escape(source)})");
    }

    // Control characters and spaces at the edges would vanish in a table cell: show them escaped.
    private static string Printable(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            builder.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                ' ' => "␠",
                _ when char.IsControl(c) => $"\\u{(int)c:X4}",
                _ => c.ToString(),
            });
        }
        return builder.ToString();
    }
}
