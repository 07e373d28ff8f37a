using System.Diagnostics;
using System.Text.Json;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Lora;

/// <summary>
/// PEFT's file layout checked against an independent writer and reader: peft_fixture.py (Python standard library
/// only, written from PEFT's documented naming, not from this engine's code) writes an adapter the way PEFT saves one
/// (BF16 A, F16 B, alpha 8, dropout set) that must load here, and reads the adapters written here as PEFT would.
/// </summary>
public class PeftAdapterFileTests
{
    private static string Script => Path.Combine(RepoRoot.Path, "tests", "Engine.Tests", "Lora", "peft_fixture.py");

    private static string Python(params string[] args)
    {
        var psi = new ProcessStartInfo("python3", [Script, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.EqualTo(0), $"peft_fixture.py {string.Join(" ", args)}: {stderr.Result}");
        return stdout;
    }

    [Test]
    public void AnAdapterWrittenAsPeftDoesLoads()
    {
        string dir = TinyModels.NewTempDir("peft-in");
        Python("write", dir, "64", "32");
        var info = PeftAdapterFile.Load(dir);
        var adapter = info.Adapter;
        Assert.That(adapter.Rank, Is.EqualTo(4));
        Assert.That(adapter.Alpha, Is.EqualTo(8f));
        Assert.That(adapter.Scale, Is.EqualTo(2f));
        Assert.That(adapter.Targets, Is.EqualTo(new[] { Projection.Q, Projection.V }));
        Assert.That(adapter.Pairs.Select(p => (p.Layer, p.Projection)),
            Is.EqualTo(new[] { (0, Projection.Q), (0, Projection.V), (2, Projection.Q), (2, Projection.V) }));
        var v = adapter[2, Projection.V];
        Assert.That((v.In, v.Out), Is.EqualTo((64, 32)));
        // The fixture's values: (((i * 37 + salt * 11) % 17) - 8) / 64, salt = layer * 10 + len(name) + out (+1 for B).
        int salt = 2 * 10 + "v_proj".Length + 32;
        Assert.That(v.A, Is.EqualTo(Enumerable.Range(0, v.A.Length).Select(i => (((i * 37 + salt * 11) % 17) - 8) / 64f)));
        Assert.That(v.B, Is.EqualTo(Enumerable.Range(0, v.B.Length).Select(i => (((i * 37 + (salt + 1) * 11) % 17) - 8) / 64f)));
        // The same directory by its weights file.
        Assert.That(PeftAdapterFile.Load(Path.Combine(dir, PeftAdapterFile.WeightsFileName)).Adapter.Count, Is.EqualTo(4));
    }

    [Test]
    public void AnAdapterWrittenHereReadsAsPeftExpects()
    {
        var config = ChameleonConfig.Load(Path.Combine(TinyModels.Default, "config.json"));
        var adapter = LoraAdapter.Create(config, 4, 8, Projections.Qkv, [0, 1], seed: 3);
        foreach (var p in adapter.Pairs)
            for (int i = 0; i < p.B.Length; i++) p.B[i] = i % 7 * 0.125f;
        string dir = TinyModels.NewTempDir("peft-out");
        PeftAdapterFile.Save(dir, adapter, "tiny", new Dictionary<string, string> { ["coar.method"] = "lora" });
        var seen = JsonDocument.Parse(Python("read", dir)).RootElement;
        var names = seen.EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var p in adapter.Pairs)
            foreach (bool a in new[] { true, false })
            {
                string name = $"base_model.model.model.layers.{p.Layer}.{p.Projection.ModulePath()}.lora_{(a ? "A" : "B")}.weight";
                Assert.That(names, Does.Contain(name));
                var entry = seen.GetProperty(name);
                var shape = entry[1].EnumerateArray().Select(e => e.GetInt32()).ToArray();
                Assert.That(shape, Is.EqualTo(a ? new[] { 4, p.In } : new[] { p.Out, 4 }), name);
                Assert.That(entry[2].GetDouble(), Is.EqualTo((a ? p.A : p.B).Sum(x => (double)x)).Within(1e-4), name);
            }
        Assert.That(names.Count, Is.EqualTo(2 * adapter.Count));
        var reloaded = PeftAdapterFile.Load(dir).Adapter;
        Assert.That(reloaded[1, Projection.K].A, Is.EqualTo(adapter[1, Projection.K].A));
        Assert.That(reloaded[1, Projection.K].B, Is.EqualTo(adapter[1, Projection.K].B));
    }

    [TestCase("\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"", "peft_type")]
    [TestCase("\"use_dora\": false", "\"use_dora\": true", "use_dora")]
    [TestCase("\"bias\": \"none\"", "\"bias\": \"all\"", "bias")]
    [TestCase("\"r\": 4", "\"r\": 8", "r = 8")]
    [TestCase("\"v_proj\",", "", "target_modules")]
    [TestCase("\"rank_pattern\": {}", "\"rank_pattern\": {\"q_proj\": 2}", "rank_pattern")]
    public void AConfigThisEngineCannotRunIsRefusedByName(string field, string replacement, string named)
    {
        string dir = TinyModels.NewTempDir("peft-bad");
        Python("write", dir, "64", "32");
        string config = Path.Combine(dir, PeftAdapterFile.ConfigFileName);
        string text = File.ReadAllText(config);
        Assert.That(text, Does.Contain(field));
        File.WriteAllText(config, text.Replace(field, replacement));
        var e = Assert.Throws<InvalidDataException>(() => PeftAdapterFile.Load(dir));
        Assert.That(e!.Message, Does.Contain(named).And.Contain(dir));
    }

    [Test]
    public void MissingFilesAreNamed()
    {
        string dir = TinyModels.NewTempDir("peft-missing");
        var e = Assert.Throws<FileNotFoundException>(() => PeftAdapterFile.Load(dir));
        Assert.That(e!.Message, Does.Contain(PeftAdapterFile.WeightsFileName));
        Python("write", dir, "64", "32");
        File.Delete(Path.Combine(dir, PeftAdapterFile.ConfigFileName));
        e = Assert.Throws<FileNotFoundException>(() => PeftAdapterFile.Load(dir));
        Assert.That(e!.Message, Does.Contain(PeftAdapterFile.ConfigFileName));
    }
}
