using System.Diagnostics;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>
/// Runs every kernel of kernels/ on the CPU emulator (kernels/emulator: one fiber per CUDA thread, warp collectives,
/// ldmatrix, mma.sync and cp.async emulated lane by lane, shared memory poisoned) against float64 or exact references
/// under several warp schedules: the kernels' index math, fragment layouts, bounds and barriers are checked on every CI
/// machine, GPU or not.
/// </summary>
public class KernelEmulatorTests
{
    [Test]
    public void EveryKernelMatchesItsReferenceOnTheEmulator()
    {
        string script = Path.Combine(RepoRoot.Path, "kernels", "emulator", "run.sh");
        string temp = Directory.CreateTempSubdirectory("coar-emulator-").FullName;
        try
        {
            var psi = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.Environment["TMPDIR"] = temp;
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            Assert.That(p.WaitForExit(TimeSpan.FromMinutes(5)), Is.True, "the emulator run did not finish in 5 minutes");
            Assert.That(p.ExitCode, Is.EqualTo(0), stdout + stderr.Result);
            Assert.That(stdout, Does.Contain("all kernel checks passed"));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }
}
