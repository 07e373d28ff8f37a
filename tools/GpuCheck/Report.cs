using System.Text;

namespace CoAR.Engine.GpuCheck;

/// <summary>The check's findings as Markdown (for bench/RESULTS.md) and as plain lines on the console.</summary>
internal sealed class Report
{
    private readonly StringBuilder _markdown = new();

    public int Failures { get; private set; }

    public void Heading(string text)
    {
        _markdown.AppendLine().AppendLine($"## {text}").AppendLine();
        Console.WriteLine($"== {text}");
    }

    public void Line(string text)
    {
        _markdown.AppendLine(text);
        Console.WriteLine(text);
    }

    public void Fail(string text)
    {
        Failures++;
        Line($"FAIL: {text}");
    }

    public void Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        _markdown.AppendLine("| " + string.Join(" | ", header) + " |");
        _markdown.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var row in rows)
        {
            _markdown.AppendLine("| " + string.Join(" | ", row) + " |");
            Console.WriteLine("  " + string.Join("  ", row));
        }
    }

    public string Markdown => _markdown.ToString();
}
