using SharpFuzz;

namespace CoAR.Engine.Fuzz;

/// <summary>
/// The fuzzing driver (SharpFuzz + AFL++; see tools/fuzz). Verbs:
/// <c>fuzz TARGET</c> is the program afl-fuzz runs (inputs on stdin, out-of-process so a hang or a crash does not end
/// the campaign); <c>instrument DIR</c> adds AFL's coverage probes to the engine's assemblies in DIR (a copy of this
/// program's output); <c>run TARGET FILE...</c> runs inputs once and reports any unexpected exception; <c>list</c>.
/// </summary>
public static class Program
{
    /// <summary>The engine's own assemblies: what gets coverage probes.</summary>
    public static readonly string[] InstrumentedAssemblies =
        ["CoAR.Engine.Managed.dll", "CoAR.Engine.Graph.dll", "CoAR.Engine.Tools.dll", "coar.dll"];

    public static int Main(string[] args)
    {
        switch (args)
        {
            case ["list"]:
                foreach (var t in FuzzTargets.All)
                    Console.WriteLine($"{t.Name,-12} {t.Reader}");
                return 0;
            case ["fuzz", var name]:
                var target = FuzzTargets.Named(name);
                Fuzzer.OutOfProcess.Run(stream =>
                {
                    var input = new MemoryStream();
                    stream.CopyTo(input);
                    if (!target.Accepts(input.ToArray(), out var unexpected))
                        throw new FuzzFinding(unexpected!);
                });
                return 0;
            case ["instrument", var dir]:
                foreach (var assembly in InstrumentedAssemblies)
                {
                    var types = Fuzzer.Instrument(Path.Combine(dir, assembly), _ => true, Options.Value);
                    Console.WriteLine($"instrumented {assembly}: {types.Count()} types");
                }
                return 0;
            case ["run", var name, .. var files]:
                // Instrumented assemblies write coverage into AFL's shared memory; outside AFL they get a scratch map.
                unsafe
                {
                    SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
                }
                int failures = 0;
                foreach (var file in files)
                {
                    if (!FuzzTargets.Named(name).Accepts(File.ReadAllBytes(file), out var refusal, out var e))
                    {
                        failures++;
                        Console.WriteLine($"{file}: {e}");
                    }
                    else
                    {
                        Console.WriteLine($"{file}: {(refusal is null ? "accepted" : $"refused: {refusal.Message}")}");
                    }
                }
                Console.WriteLine($"{files.Length - failures} of {files.Length} inputs handled");
                return failures == 0 ? 0 : 1;
            default:
                Console.Error.WriteLine("usage: CoAR.Engine.Fuzz list | fuzz TARGET | instrument DIR | run TARGET FILE...");
                return 2;
        }
    }
}

/// <summary>An input that made a reader throw something other than its bad-input errors.</summary>
public sealed class FuzzFinding(Exception inner) : Exception($"unexpected {inner.GetType().Name}: {inner.Message}", inner);
