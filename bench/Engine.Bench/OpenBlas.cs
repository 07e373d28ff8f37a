using System.Runtime.InteropServices;

namespace CoAR.Engine.Bench;

/// <summary>cblas_sgemm from Debian's libopenblas0, the CPU GEMM the engine's own is measured against.</summary>
internal static unsafe partial class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    [LibraryImport("libopenblas.so.0", EntryPoint = "cblas_sgemm")]
    private static partial void Sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, float* a, int lda,
        float* b, int ldb, float beta, float* c, int ldc);

    /// <summary>y = x W^T, the engine's MatMul layout (x [M, K], w [N, K], y [M, N], row-major).</summary>
    public static void MatMul(float* x, float* w, float* y, int m, int k, int n) =>
        Sgemm(RowMajor, NoTrans, Trans, m, n, k, 1f, x, k, w, k, 0f, y, n);

    public static bool Available(out string reason)
    {
        if (NativeLibrary.TryLoad("libopenblas.so.0", out var handle))
        {
            NativeLibrary.Free(handle);
            reason = "";
            return true;
        }
        reason = "libopenblas.so.0 not found: apt-get install libopenblas0";
        return false;
    }
}
