using System.Diagnostics;
using System.Globalization;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Tools;

// A cold host: from process start, rounds of a 64-token prefill and 16 decode steps on the CPU, then the first whole
// 256x256 image. Prints one line per round (seconds since start, prefill tokens/s, decode ms/step) and a summary.
// Rates are per second of this thread's CPU time: with DOTNET_PROCESSOR_COUNT=1 the engine computes on this thread
// only, so the figures do not depend on what else the machine runs (the JIT's background thread is not counted).
// Usage: coar-host-bench [MODEL_DIR] [ROUNDS]
var started = Process.GetCurrentProcess().StartTime.ToUniversalTime();
string modelDir = args.Length > 0 && args[0] != "-" ? args[0] : BuiltInModel.EnsureCreated();
int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 8;
double Now() => (DateTime.UtcNow - started).TotalSeconds;
double Cpu() => ThreadCpu.Seconds();

var loadClock = Stopwatch.StartNew();
using var engine = CoarEngine.Load(new EngineParams(modelDir, Device: "cpu"));
double load = loadClock.Elapsed.TotalSeconds;
var model = engine.Model;
var rng = new Random(1);
int[] prompt = Enumerable.Range(0, 64).Select(_ => 4 + rng.Next(8192)).ToArray();

var prefills = new List<double>();
var decodes = new List<double>();
Console.WriteLine($"load {load * 1000:F0} ms (process start to loaded: {Now():F2} s)");
Console.WriteLine("round  at_s  prefill_tok_s  decode_ms_step");
for (int round = 1; round <= rounds; round++)
{
    using var cache = model.CreateCache(1, prompt.Length + 17);
    double t0 = Cpu();
    model.Forward(ForwardBatch.Single(prompt), cache);
    model.Backend.Synchronize();
    double t1 = Cpu();
    for (int step = 0; step < 16; step++)
        model.Forward(ForwardBatch.Single([4 + step], start: prompt.Length + step), cache);
    model.Backend.Synchronize();
    double prefill = prompt.Length / (t1 - t0);
    double decode = (Cpu() - t1) * 1000 / 16;
    prefills.Add(prefill);
    decodes.Add(decode);
    Console.WriteLine($"{round,5} {Now(),5:F2} {prefill,14:F0} {decode,15:F2}");
}

double imageStart = Cpu();
engine.Generate([new ImagePrompt("a red apple on a wooden table", 256, 256, 1, new SamplingSettings())]);
double image = Cpu() - imageStart;
Console.WriteLine($"first 256x256 image: {image:F2} s of CPU");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"summary: first prefill {prefills[0]:F0} tok/s, best {prefills.Max():F0} tok/s; first decode {decodes[0]:F2} ms/step, best {decodes.Min():F2}; image {image:F2} s; total {Now():F2} s"));

/// <summary>This thread's CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)).</summary>
internal static partial class ThreadCpu
{
    public static double Seconds()
    {
        if (ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var ts) != 0) throw new InvalidOperationException("clock_gettime failed");
        return ts.Seconds + ts.Nanoseconds / 1e9;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
