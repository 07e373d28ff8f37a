// Runs the transformer's row and element kernels on the CPU emulator against float64 references written from the op
// semantics (IBackend, the CPU backend): norms, RoPE, row moves, pointwise ops, losses and sampling, launched with the
// grids, blocks, shared memory and argument order of CudaBackend's launchers, on odd shapes, vector and scalar paths,
// both activation types, NaN-poisoned outputs with guards after them.
// Usage: layer_checks [group [deferred|eager [schedule [seed]]]]; built and run by run.sh.
#include "src/norms.cu"
#include "src/rope.cu"
#include "src/rows.cu"
#include "src/pointwise.cu"
#include "src/elementwise.cu"
#include "src/losses.cu"
#include "src/sampling.cu"

alignas(16) float trig[1024];  // rope.cu's dynamic shared memory (dh floats)

#include "check_support.h"
#include <array>

constexpr int kRowThreads = 256;         // CudaBackend.RowThreads
constexpr int kHeadRowsPerBlock = 16;    // CudaBackend.HeadRowsPerBlock: 16 lanes per head row
constexpr int kRopeThreads = 128;        // CudaBackend.RopeThreads
constexpr int kPointwiseThreads = 256;   // CudaBackend.PointwiseThreads
constexpr unsigned kStrideCap = 132 * 16;  // StrideGrid on an H100: 16 blocks per multiprocessor

// ---- norms.cu ---------------------------------------------------------------------------------------------------
// shift 1 moves every tensor off 16-byte alignment, so the launcher picks the scalar path even when d % 8 == 0.
template <typename T>
static void check_rmsnorm(int rows, int d, bool w_bf16, int shift, bool in_place) {
    auto xs = operand<T>((size_t)rows * d, 2);
    FlagBuf w(d, 1, 0.5f, w_bf16, shift);
    Buf<T> x = upload<T>(xs, shift), y_apart((size_t)rows * d, NaN, shift);
    Buf<T>& y = in_place ? x : y_apart;
    const float eps = 1e-5f;
    const int vec = d % 8 == 0 && shift == 0;
    std::vector<double> want((size_t)rows * d);
    for (int r = 0; r < rows; ++r) {
        double squares = 0;
        for (int c = 0; c < d; ++c) squares += (double)xs[r * d + c] * xs[r * d + c];
        double scale = 1 / std::sqrt(squares / d + eps);
        for (int c = 0; c < d; ++c) want[r * d + c] = xs[r * d + c] * scale * w.v[c];
    }
    auto kernel = pick<T>(rmsnorm_fwd_bf16, rmsnorm_fwd_f32);
    emu::launch(dim3{(unsigned)rows, 1, 1}, block_of(kRowThreads), 0, nullptr,
                [&] { kernel(y.p(), x.p(), w.p(), w.flag(), d, eps, vec); });
    check_close(dims("rmsnorm_fwd_%s rows=%d d=%d w=%s%s%s", type_name<T>(), rows, d, w.name(), vec ? " vec" : " scalar",
                     in_place ? " in-place" : ""), want, y, tol_of<T>());
}

template <typename T>
static void check_rmsnorm_backward(int rows, int d, bool w_bf16, bool dy_bf16, int shift, bool accumulate) {
    const size_t n = (size_t)rows * d;
    auto xs = operand<T>(n, 2);
    FlagBuf w(d, 1, 0.5f, w_bf16, shift), dy(n, 0, 1, dy_bf16, shift);
    auto dx0 = operand<T>(n);
    Buf<T> x = upload<T>(xs, shift), dx(n, NaN, shift);
    if (accumulate) for (size_t i = 0; i < n; ++i) dx.set(i, dx0[i]);
    const float eps = 1e-5f;
    const int vec = d % 8 == 0 && shift == 0;
    std::vector<double> want(n);
    for (int r = 0; r < rows; ++r) {
        double squares = 0, dot = 0;
        for (int c = 0; c < d; ++c) {
            double v = xs[r * d + c];
            squares += v * v;
            dot += dy.v[r * d + c] * w.v[c] * v;
        }
        double inv = 1 / std::sqrt(squares / d + eps), coefficient = dot * inv * inv * inv / d;
        for (int c = 0; c < d; ++c)
            want[r * d + c] = inv * w.v[c] * dy.v[r * d + c] - xs[r * d + c] * coefficient + (accumulate ? dx0[r * d + c] : 0);
    }
    auto kernel = pick<T>(rmsnorm_bwd_bf16, rmsnorm_bwd_f32);
    emu::launch(dim3{(unsigned)rows, 1, 1}, block_of(kRowThreads), 0, nullptr,
                [&] { kernel(dx.p(), x.p(), dy.p(), dy.flag(), w.p(), w.flag(), d, eps, vec, accumulate); });
    check_close(dims("rmsnorm_bwd_%s rows=%d d=%d w=%s dy=%s%s%s", type_name<T>(), rows, d, w.name(), dy.name(),
                     vec ? " vec" : " scalar", accumulate ? " acc" : ""), want, dx, 2 * tol_of<T>());
}

// The head row statistics of the reference: mean and 1 / sqrt(biased variance + eps) in float64.
static void head_statistics(const float* x, int dh, float eps, double& mean, double& inv) {
    double sum = 0, centred = 0;
    for (int c = 0; c < dh; ++c) sum += x[c];
    mean = sum / dh;
    for (int c = 0; c < dh; ++c) centred += (x[c] - mean) * (x[c] - mean);
    inv = 1 / std::sqrt(centred / dh + eps);
}

template <typename T>
static void check_headnorm(int tokens, int heads, int dh, int groups, bool w_bf16, int shift, bool in_place) {
    const long long rows = (long long)tokens * heads;
    const size_t n = rows * dh;
    auto xs = operand<T>(n, 2);
    for (auto& v : xs) v = std::is_same_v<T, bf16> ? rb(v + 0.7f) : v + 0.7f;  // a mean away from 0
    FlagBuf gamma((size_t)groups * dh, 1, 0.5f, w_bf16, shift), beta((size_t)groups * dh, 0, 0.5f, w_bf16, shift);
    Buf<T> x = upload<T>(xs, shift), y_apart(n, NaN, shift);
    Buf<T>& y = in_place ? x : y_apart;
    const float eps = 1e-5f;
    const int per_group = heads / groups, vec = dh % 8 == 0 && shift == 0;
    std::vector<double> want(n);
    for (long long r = 0; r < rows; ++r) {
        double mean, inv;
        head_statistics(&xs[r * dh], dh, eps, mean, inv);
        int g = (int)(r % heads) / per_group;
        for (int c = 0; c < dh; ++c) want[r * dh + c] = (xs[r * dh + c] - mean) * inv * gamma.v[g * dh + c] + beta.v[g * dh + c];
    }
    auto kernel = pick<T>(headnorm_fwd_bf16, headnorm_fwd_f32);
    emu::launch(blocks_for(rows, kHeadRowsPerBlock), block_of(kRowThreads), 0, nullptr, [&] {
        kernel(y.p(), x.p(), gamma.p(), beta.p(), gamma.flag(), rows, heads, dh, per_group, eps, vec);
    });
    check_close(dims("headnorm_fwd_%s T=%d H=%d dh=%d G=%d w=%s%s%s", type_name<T>(), tokens, heads, dh, groups, gamma.name(),
                     vec ? " vec" : " scalar", in_place ? " in-place" : ""), want, y, tol_of<T>());
}

template <typename T>
static void check_headnorm_backward(int tokens, int heads, int dh, int groups, bool w_bf16, bool dy_bf16, int shift) {
    const long long rows = (long long)tokens * heads;
    const size_t n = rows * dh;
    auto xs = operand<T>(n, 2);
    FlagBuf gamma((size_t)groups * dh, 1, 0.5f, w_bf16, shift), dy(n, 0, 1, dy_bf16, shift);
    Buf<T> x = upload<T>(xs, shift), dx(n, NaN, shift);
    const float eps = 1e-5f;
    const int per_group = heads / groups, vec = dh % 8 == 0 && shift == 0;
    std::vector<double> want(n);
    for (long long r = 0; r < rows; ++r) {
        double mean, inv, sum_g = 0, sum_gx = 0;
        head_statistics(&xs[r * dh], dh, eps, mean, inv);
        int g = (int)(r % heads) / per_group;
        for (int c = 0; c < dh; ++c) {
            double grad = (double)dy.v[r * dh + c] * gamma.v[g * dh + c];
            sum_g += grad;
            sum_gx += grad * (xs[r * dh + c] - mean) * inv;
        }
        for (int c = 0; c < dh; ++c) {
            double grad = (double)dy.v[r * dh + c] * gamma.v[g * dh + c], xhat = (xs[r * dh + c] - mean) * inv;
            want[r * dh + c] = inv * (grad - sum_g / dh - xhat * sum_gx / dh);
        }
    }
    auto kernel = pick<T>(headnorm_bwd_bf16, headnorm_bwd_f32);
    emu::launch(blocks_for(rows, kHeadRowsPerBlock), block_of(kRowThreads), 0, nullptr, [&] {
        kernel(dx.p(), x.p(), dy.p(), dy.flag(), gamma.p(), gamma.flag(), rows, heads, dh, per_group, eps, vec);
    });
    check_close(dims("headnorm_bwd_%s T=%d H=%d dh=%d G=%d w=%s dy=%s%s", type_name<T>(), tokens, heads, dh, groups, gamma.name(),
                     dy.name(), vec ? " vec" : " scalar"), want, dx, 2 * tol_of<T>());
}

static void norm_checks() {
    check_rmsnorm<bf16>(3, 520, true, 0, false);
    check_rmsnorm<bf16>(2, 4104, false, 0, true);
    check_rmsnorm<float>(3, 77, true, 0, false);
    check_rmsnorm<float>(2, 64, false, 1, true);
    check_rmsnorm<float>(1, 2056, true, 0, false);
    check_rmsnorm_backward<bf16>(3, 520, true, false, 0, false);
    check_rmsnorm_backward<bf16>(2, 77, false, true, 0, true);
    check_rmsnorm_backward<float>(2, 2056, true, true, 0, true);
    check_rmsnorm_backward<float>(3, 40, false, false, 1, false);
    check_headnorm<bf16>(3, 6, 128, 2, true, 0, false);
    check_headnorm<bf16>(5, 1, 64, 1, false, 0, true);
    check_headnorm<float>(2, 8, 136, 4, true, 0, true);
    check_headnorm<float>(3, 3, 20, 3, false, 0, false);
    check_headnorm<bf16>(2, 4, 40, 1, true, 1, false);
    check_headnorm_backward<bf16>(3, 6, 128, 2, true, false, 0);
    check_headnorm_backward<float>(2, 8, 136, 4, false, true, 0);
    check_headnorm_backward<float>(3, 3, 20, 1, true, false, 0);
    check_headnorm_backward<bf16>(2, 4, 40, 2, false, true, 1);
}

// ---- rope.cu ----------------------------------------------------------------------------------------------------
// The reference forms the angles as the CPU backend does (inv_freq rounded to fp32, the angle a fp32 product, its
// cosine and sine rounded to fp32) and rotates in float64.
template <typename T>
static void check_rope(int tokens, int heads, int dh, float direction, int shift, bool in_place) {
    const size_t n = (size_t)tokens * heads * dh;
    const float theta = 10000;
    const int half = dh / 2;
    auto xs = operand<T>(n);
    std::vector<int> positions(tokens);
    for (auto& p : positions) p = rng() % 5000;
    positions[0] = 0;
    Buf<T> x = upload<T>(xs, shift), y_apart(n, NaN, shift);
    Buf<T>& y = in_place ? x : y_apart;
    Buf<int> pos(tokens, 0);
    for (int t = 0; t < tokens; ++t) pos[t] = positions[t];
    const int vec = half % 8 == 0 && shift == 0;
    std::vector<double> want(n);
    for (int t = 0; t < tokens; ++t)
        for (int j = 0; j < half; ++j) {
            float inv_freq = (float)(1.0 / std::pow((double)theta, 2.0 * j / dh));
            float angle = (float)positions[t] * inv_freq;
            double c = (float)std::cos((double)angle), s = direction * (float)std::sin((double)angle);
            for (int h = 0; h < heads; ++h) {
                size_t at = ((size_t)t * heads + h) * dh + j;
                want[at] = xs[at] * c - xs[at + half] * s;
                want[at + half] = xs[at + half] * c + xs[at] * s;
            }
        }
    auto kernel = pick<T>(rope_bf16, rope_f32);
    emu::launch(dim3{(unsigned)tokens, 1, 1}, block_of(kRopeThreads), dh * sizeof(float), (unsigned char*)trig,
                [&] { kernel(y.p(), x.p(), pos.p(), heads, dh, theta, direction, vec); }, sizeof trig);
    check_close(dims("rope_%s T=%d H=%d dh=%d dir=%+.0f%s%s", type_name<T>(), tokens, heads, dh, direction, vec ? " vec" : " scalar",
                     in_place ? " in-place" : ""), want, y, tol_of<T>());
}

static void rope_checks() {
    check_rope<bf16>(3, 5, 128, 1, 0, true);
    check_rope<bf16>(2, 3, 64, -1, 0, false);
    check_rope<float>(3, 4, 48, 1, 0, false);
    check_rope<float>(2, 3, 20, -1, 0, true);
    check_rope<bf16>(2, 2, 16, 1, 1, false);
    check_rope<float>(2, 70, 32, 1, 0, false);
}

// ---- pointwise.cu, elementwise.cu -------------------------------------------------------------------------------
// cap: the most blocks StrideGrid gives (16 per multiprocessor); a small one makes the grid-stride loops go round.
template <typename T>
static void check_swiglu(long long n, int shift, bool out_is_gate, unsigned cap) {
    auto gs = operand<T>(n, 4), us = operand<T>(n, 2);
    Buf<T> gate = upload<T>(gs, shift), up = upload<T>(us, shift), out_apart(n, NaN, shift);
    Buf<T>& out = out_is_gate ? gate : out_apart;
    std::vector<double> want(n);
    for (long long i = 0; i < n; ++i) want[i] = gs[i] / (1 + std::exp(-(double)gs[i])) * us[i];
    auto kernel = pick<T>(swiglu_fwd_bf16, swiglu_fwd_f32);
    const int vec = shift == 0;
    emu::launch(blocks_for(n / 8 + 1, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr,
                [&] { kernel(out.p(), gate.p(), up.p(), n, vec); });
    check_close(dims("swiglu_fwd_%s n=%lld grid cap %u%s%s", type_name<T>(), n, cap, vec ? " vec" : " scalar", out_is_gate ? " out=gate" : ""),
                want, out, tol_of<T>());
}

template <typename T>
static void check_swiglu_backward(long long n, int shift, unsigned cap) {
    auto gs = operand<T>(n, 6), us = operand<T>(n, 2), ds = operand<T>(n);
    Buf<T> gate = upload<T>(gs, shift), up = upload<T>(us, shift), dout = upload<T>(ds, shift);
    Buf<T> dgate(n, NaN, shift), dup(n, NaN, shift);
    std::vector<double> want_gate(n), want_up(n);
    for (long long i = 0; i < n; ++i) {
        double g = gs[i], s = 1 / (1 + std::exp(-g));
        want_gate[i] = ds[i] * us[i] * s * (1 + g * (1 - s));
        want_up[i] = ds[i] * g * s;
    }
    auto kernel = pick<T>(swiglu_bwd_bf16, swiglu_bwd_f32);
    const int vec = shift == 0;
    emu::launch(blocks_for(n / 8 + 1, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr,
                [&] { kernel(dgate.p(), dup.p(), gate.p(), up.p(), dout.p(), n, vec); });
    std::string name = dims("swiglu_bwd_%s n=%lld grid cap %u%s", type_name<T>(), n, cap, vec ? " vec" : " scalar");
    check_close(name + " dgate", want_gate, dgate, tol_of<T>());
    check_close(name + " dup", want_up, dup, tol_of<T>());
}

// y = a + b in fp32, rounded once to T: exact.
template <typename T>
static void check_add(long long n, int shift, int alias, unsigned cap) {
    auto as = operand<T>(n, 3), bs = operand<T>(n);
    Buf<T> a = upload<T>(as, shift), b = upload<T>(bs, shift), y_apart(n, NaN, shift);
    Buf<T>& y = alias == 1 ? a : alias == 2 ? b : y_apart;
    std::vector<T> want(n);
    for (long long i = 0; i < n; ++i) want[i] = ref_round<T>(as[i] + bs[i]);
    auto kernel = pick<T>(add_bf16, add_f32);
    const int vec = shift == 0;
    emu::launch(blocks_for(n / 8 + 1, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr,
                [&] { kernel(y.p(), a.p(), b.p(), n, vec); });
    report_exact(dims("add_%s n=%lld grid cap %u%s%s", type_name<T>(), n, cap, vec ? " vec" : " scalar",
                      alias == 1 ? " y=a" : alias == 2 ? " y=b" : ""), want, y);
}

// Values that exercise a bf16 rounding: ties both ways, overflow to infinity, infinities, NaN, denormals, signed zeros.
static std::vector<float> rounding_cases(size_t n) {
    std::vector<float> v = operand<float>(n, 100);
    const unsigned special[] = {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0x7f7f8000u, 0x7f7f7fffu, 0x7f800000u, 0xff800000u,
                                0x7fc00000u, 0xffc12345u, 0x00000001u, 0x80008000u, 0x00018000u, 0x80000000u, 0x00000000u};
    for (size_t i = 0; i < sizeof special / sizeof special[0] && i < n; ++i) v[i * 3 % n] = __uint_as_float(special[i]);
    return v;
}

static void check_elementwise(long long n, unsigned grid) {
    auto as = operand<float>(n, 3), bs = operand<float>(n);
    Buf<float> a = upload<float>(as), b = upload<float>(bs), y(n);
    std::vector<float> want(n);
    for (long long i = 0; i < n; ++i) want[i] = as[i] + bs[i];
    emu::launch(dim3{grid, 1, 1}, block_of(256), 0, nullptr, [&] { residual_add_f32(y.p(), a.p(), b.p(), n); });
    report_exact(dims("residual_add_f32 n=%lld grid %u", n, grid), want, y);

    auto ab = operand<bf16>(n, 3), bb = operand<bf16>(n);
    Buf<bf16> a16 = upload<bf16>(ab), b16 = upload<bf16>(bb), y16(n);
    std::vector<bf16> want16(n);
    for (long long i = 0; i < n; ++i) want16[i] = ref_bf16(ab[i] + bb[i]);
    emu::launch(blocks_for(n, 256), block_of(256), 0, nullptr, [&] { residual_add_bf16(y16.p(), a16.p(), b16.p(), n); });
    report_exact(dims("residual_add_bf16 n=%lld", n), want16, y16);

    auto cs = rounding_cases(n);
    Buf<float> wide = upload<float>(cs);
    Buf<bf16> narrow(n);
    for (long long i = 0; i < n; ++i) want16[i] = ref_bf16(cs[i]);
    emu::launch(dim3{grid, 1, 1}, block_of(256), 0, nullptr, [&] { convert_f32_to_bf16(narrow.p(), wide.p(), n); });
    report_exact(dims("convert_f32_to_bf16 n=%lld grid %u (ties, overflow, inf, NaN, denormals)", n, grid), want16, narrow);
    Buf<float> back(n);
    for (long long i = 0; i < n; ++i) want[i] = __uint_as_float((unsigned)want16[i].bits << 16);
    emu::launch(blocks_for(n, 256), block_of(256), 0, nullptr, [&] { convert_bf16_to_f32(back.p(), narrow.p(), n); });
    report_exact(dims("convert_bf16_to_f32 n=%lld", n), want, back);

    Buf<float> filled(n);
    std::fill(want.begin(), want.end(), -3.25f);
    emu::launch(blocks_for(n, 256), block_of(256), 0, nullptr, [&] { fill_f32(filled.p(), -3.25f, n); });
    report_exact(dims("fill_f32 n=%lld", n), want, filled);
    Buf<bf16> filled16(n);
    std::fill(want16.begin(), want16.end(), ref_bf16(7.5f));
    emu::launch(dim3{3, 1, 1}, block_of(256), 0, nullptr, [&] { fill_bf16(filled16.p(), ref_bf16(7.5f), n); });
    report_exact(dims("fill_bf16 n=%lld grid 3", n), want16, filled16);
}

static void pointwise_checks() {
    check_swiglu<bf16>(1005, 0, false, kStrideCap);
    check_swiglu<bf16>(4099, 0, true, 1);
    check_swiglu<float>(13, 0, false, kStrideCap);
    check_swiglu<float>(2051, 1, true, 2);
    check_swiglu_backward<bf16>(1003, 0, 1);
    check_swiglu_backward<float>(777, 1, kStrideCap);
    check_swiglu_backward<float>(4101, 0, 2);
    check_add<bf16>(1001, 0, 1, kStrideCap);
    check_add<bf16>(517, 1, 2, 1);
    check_add<float>(4103, 0, 0, 1);
    check_add<float>(7, 0, 2, kStrideCap);
    check_elementwise(3001, 2);
    check_elementwise(100, 37);
}

// ---- rows.cu ----------------------------------------------------------------------------------------------------
constexpr int kMoveThreads = 128;  // CudaBackend.MoveThreads
constexpr int kKvThreads = 32;     // CudaBackend.KvThreads

// n indices into [0, rows): distinct ones (a scatter's contract) or drawn with repeats, plus, when invalid, indices
// outside on both sides (a gather gives NaN rows for them, a scatter drops them).
static std::vector<int> row_indices(int n, int rows, bool distinct, bool invalid) {
    std::vector<int> idx(n);
    std::vector<int> perm(rows);
    for (int i = 0; i < rows; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    for (int i = 0; i < n; ++i) idx[i] = distinct ? perm[i % rows] : (int)(rng() % rows);
    if (invalid && n >= 3) { idx[1] = -1; idx[n - 1] = rows; }
    return idx;
}
static Buf<int> int_buf(const std::vector<int>& v) {
    Buf<int> b(v.size(), 0);
    for (size_t i = 0; i < v.size(); ++i) b[i] = v[i];
    return b;
}
static bool inside(int i, int rows) { return i >= 0 && i < rows; }

// CudaBackend.Granule: the widest access (16, 4 or 1 bytes) that divides the row length and the addresses.
static int granule(long long row_bytes, const void* a, const void* b) {
    uintptr_t addresses = (uintptr_t)a | (uintptr_t)b;
    return row_bytes % 16 == 0 && addresses % 16 == 0 ? 16 : row_bytes % 4 == 0 && addresses % 4 == 0 ? 4 : 1;
}

template <typename TS, typename TD, typename BB, typename BF, typename FB, typename FF>
static auto pick2(BB bb, BF bf, FB fb, FF ff) {
    if constexpr (std::is_same_v<TS, bf16>) { if constexpr (std::is_same_v<TD, bf16>) return bb; else return bf; }
    else { if constexpr (std::is_same_v<TD, bf16>) return fb; else return ff; }
}
template <typename T> static T nan_of() { T t; store_as(t, NaN); return t; }

// Embedding and the converting row gather: out[i] = x[idx[i]] converted to TD (a NaN row for an index outside x).
template <typename TS, typename TD, typename Kernel>
static void check_gather_convert(const char* name, Kernel kernel, int rows, int d, int n, int shift) {
    auto xs = operand<TS>((size_t)rows * d, 3);
    Buf<TS> x = upload<TS>(xs, shift);
    Buf<TD> out((size_t)n * d, Unwritten, shift);
    auto idx = row_indices(n, rows, false, true);
    Buf<int> indices = int_buf(idx);
    std::vector<TD> want((size_t)n * d);
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < d; ++c)
            want[(size_t)i * d + c] = inside(idx[i], rows) ? ref_round<TD>(xs[(size_t)idx[i] * d + c]) : nan_of<TD>();
    const int vec = d % 8 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)n, 1, 1}, block_of(kMoveThreads), 0, nullptr, [&] { kernel(out.p(), x.p(), indices.p(), rows, d, vec); });
    report_exact(dims("%s rows=%d d=%d n=%d%s (indices -1, rows)", name, rows, d, n, vec ? " vec" : " scalar"), want, out);
}

template <typename TS, typename TD>
static void check_embedding(int vocab, int d, int tokens, int shift) {
    auto kernel = pick2<TS, TD>(embedding_bf16_bf16, embedding_bf16_f32, embedding_f32_bf16, embedding_f32_f32);
    check_gather_convert<TS, TD>(dims("embedding_%s_%s", type_name<TS>(), type_name<TD>()).c_str(), kernel, vocab, d, tokens, shift);
}

// Rows of any dtype as bytes: out[i] = x[idx[i]] (0xff bytes for an index outside x).
static void check_gather_bytes(int rows, long long row_bytes, int n, int shift) {
    Buf<unsigned char> x(rows * row_bytes, 0, shift), out(n * row_bytes, NaN, shift);
    for (long long i = 0; i < rows * row_bytes; ++i) x[i] = (unsigned char)rng();
    auto idx = row_indices(n, rows, false, true);
    Buf<int> indices = int_buf(idx);
    std::vector<unsigned char> want(n * row_bytes, 0xff);
    for (int i = 0; i < n; ++i)
        if (inside(idx[i], rows)) std::memcpy(&want[i * row_bytes], &x[idx[i] * row_bytes], row_bytes);
    const int g = granule(row_bytes, x.p(), out.p());
    emu::launch(dim3{(unsigned)n, 1, 1}, block_of(kMoveThreads), 0, nullptr,
                [&] { gather_rows_bytes(out.p(), x.p(), indices.p(), rows, row_bytes, g); });
    report_exact(dims("gather_rows_bytes rows=%d row_bytes=%lld n=%d granule %d", rows, row_bytes, n, g), want, out);
}

// destination[idx[i]] = source[i] over distinct indices, those outside dropped; other rows keep their values.
static void check_scatter_bytes(int rows, long long row_bytes, int n, int shift) {
    Buf<unsigned char> source(n * row_bytes, 0, shift), destination(rows * row_bytes, 0, shift);
    for (long long i = 0; i < n * row_bytes; ++i) source[i] = (unsigned char)rng();
    for (long long i = 0; i < rows * row_bytes; ++i) destination[i] = (unsigned char)rng();
    auto idx = row_indices(n, rows, true, true);
    Buf<int> indices = int_buf(idx);
    std::vector<unsigned char> want(destination.all.begin() + destination.start, destination.all.begin() + destination.start + rows * row_bytes);
    for (int i = 0; i < n; ++i)
        if (inside(idx[i], rows)) std::memcpy(&want[idx[i] * row_bytes], &source[i * row_bytes], row_bytes);
    const int g = granule(row_bytes, source.p(), destination.p());
    emu::launch(dim3{(unsigned)n, 1, 1}, block_of(kMoveThreads), 0, nullptr,
                [&] { scatter_rows_bytes(destination.p(), source.p(), indices.p(), rows, row_bytes, g); });
    report_exact(dims("scatter_rows_bytes rows=%d row_bytes=%lld n=%d granule %d", rows, row_bytes, n, g), want, destination);
}

template <typename TS, typename TD>
static void check_scatter_convert(int rows, int d, int n, int shift) {
    auto ss = operand<TS>((size_t)n * d, 3), ds = operand<TD>((size_t)rows * d, 3);
    Buf<TS> source = upload<TS>(ss, shift);
    Buf<TD> destination = upload<TD>(ds, shift);
    auto idx = row_indices(n, rows, true, true);
    Buf<int> indices = int_buf(idx);
    std::vector<TD> want((size_t)rows * d);
    for (size_t i = 0; i < want.size(); ++i) want[i] = ref_round<TD>(ds[i]);
    for (int i = 0; i < n; ++i)
        if (inside(idx[i], rows))
            for (int c = 0; c < d; ++c) want[(size_t)idx[i] * d + c] = ref_round<TD>(ss[(size_t)i * d + c]);
    auto kernel = pick2<TS, TD>(nullptr, scatter_rows_bf16_f32, scatter_rows_f32_bf16, nullptr);
    const int vec = d % 8 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)n, 1, 1}, block_of(kMoveThreads), 0, nullptr,
                [&] { kernel(destination.p(), source.p(), indices.p(), rows, d, vec); });
    report_exact(dims("scatter_rows_%s_%s rows=%d d=%d n=%d%s", type_name<TS>(), type_name<TD>(), rows, d, n, vec ? " vec" : " scalar"),
                 want, destination);
}

// destination[idx[i]] += source[i] with repeated indices, in index order in fp32, one rounding to TD per row: the
// reference adds in the same order, so the result is exact (untouched rows keep their bits).
template <typename TS, typename TD>
static void check_scatter_add(int rows, int d, int n, int shift) {
    auto ss = operand<TS>((size_t)n * d, 3), ds = operand<TD>((size_t)rows * d, 3);
    Buf<TS> source = upload<TS>(ss, shift);
    Buf<TD> destination = upload<TD>(ds, shift);
    auto idx = row_indices(n, rows - 1, false, true);  // the last row is never a target: it must keep its bits
    Buf<int> indices = int_buf(idx);
    std::vector<TD> want((size_t)rows * d);
    for (int r = 0; r < rows; ++r) {
        bool touched = false;
        for (int c = 0; c < d; ++c) {
            float acc = ds[(size_t)r * d + c];
            for (int i = 0; i < n; ++i)
                if (idx[i] == r) { acc = acc + ss[(size_t)i * d + c]; touched = true; }
            want[(size_t)r * d + c] = touched ? ref_round<TD>(acc) : destination[(size_t)r * d + c];
        }
    }
    auto kernel = pick2<TS, TD>(scatter_add_rows_bf16_bf16, scatter_add_rows_bf16_f32, scatter_add_rows_f32_bf16, scatter_add_rows_f32_f32);
    const int vec = d % 8 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)rows, 1, 1}, block_of(kMoveThreads), 0, nullptr,
                [&] { kernel(destination.p(), source.p(), indices.p(), n, d, vec); });
    report_exact(dims("scatter_add_rows_%s_%s rows=%d d=%d n=%d%s", type_name<TS>(), type_name<TD>(), rows, d, n, vec ? " vec" : " scalar"),
                 want, destination);
}

static void check_zero_rows(int rows, long long row_bytes, int n, int shift) {
    Buf<unsigned char> destination(rows * row_bytes, 0, shift);
    for (long long i = 0; i < rows * row_bytes; ++i) destination[i] = (unsigned char)(rng() | 1);
    auto idx = row_indices(n, rows, false, true);
    Buf<int> indices = int_buf(idx);
    std::vector<unsigned char> want(destination.all.begin() + destination.start, destination.all.begin() + destination.start + rows * row_bytes);
    for (int i = 0; i < n; ++i)
        if (inside(idx[i], rows)) std::memset(&want[idx[i] * row_bytes], 0, row_bytes);
    const int g = granule(row_bytes, destination.p(), destination.p());
    emu::launch(dim3{(unsigned)n, 1, 1}, block_of(kMoveThreads), 0, nullptr,
                [&] { zero_rows_bytes(destination.p(), indices.p(), rows, row_bytes, g); });
    report_exact(dims("zero_rows_bytes rows=%d row_bytes=%lld n=%d granule %d", rows, row_bytes, n, g), want, destination);
}

// Tokens (row, position) for the KV kernels: distinct slots, the last token outside the cache (dropped by the store,
// a NaN row from the gather).
static void kv_slots(int tokens, int cache_rows, int capacity, std::vector<int>& rows, std::vector<int>& positions) {
    auto slots = row_indices(tokens, cache_rows * capacity, true, false);
    rows.resize(tokens); positions.resize(tokens);
    for (int t = 0; t < tokens; ++t) { rows[t] = slots[t] / capacity; positions[t] = slots[t] % capacity; }
    if (tokens >= 2) { rows[tokens - 1] = cache_rows; positions[tokens - 2] = tokens % 2 ? -1 : capacity; }
}

template <typename T>
static void check_kv_store(int cache_rows, int kv_heads, int capacity, int dh, int tokens, int shift) {
    const size_t cache_n = (size_t)cache_rows * kv_heads * capacity * dh, token_n = (size_t)tokens * kv_heads * dh;
    auto ks = operand<T>(token_n), vs = operand<T>(token_n);
    Buf<T> keys = upload<T>(ks, shift), values = upload<T>(vs, shift), cache_k(cache_n, NaN, shift), cache_v(cache_n, NaN, shift);
    Buf<int> key_tags((size_t)cache_rows * capacity);
    std::vector<int> rows, positions, tags(tokens);
    kv_slots(tokens, cache_rows, capacity, rows, positions);
    for (auto& t : tags) t = rng() % 3;
    Buf<int> brows = int_buf(rows), bpos = int_buf(positions), btags = int_buf(tags);
    std::vector<T> want_k(cache_k.all.begin() + cache_k.start, cache_k.all.begin() + cache_k.start + cache_n), want_v = want_k;
    std::vector<int> want_tags(key_tags.all.begin() + key_tags.start, key_tags.all.begin() + key_tags.start + key_tags.n);
    for (int t = 0; t < tokens; ++t) {
        if (!inside(rows[t], cache_rows) || !inside(positions[t], capacity)) continue;
        want_tags[rows[t] * capacity + positions[t]] = tags[t];
        for (int h = 0; h < kv_heads; ++h)
            for (int e = 0; e < dh; ++e) {
                size_t slot = (((size_t)rows[t] * kv_heads + h) * capacity + positions[t]) * dh + e, source = ((size_t)t * kv_heads + h) * dh + e;
                want_k[slot] = keys[source];
                want_v[slot] = values[source];
            }
    }
    auto kernel = pick<T>(kv_store_bf16, kv_store_f32);
    const int vec = dh % 8 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)tokens, (unsigned)kv_heads, 1}, block_of(kKvThreads), 0, nullptr, [&] {
        kernel(cache_k.p(), cache_v.p(), key_tags.p(), keys.p(), values.p(), brows.p(), bpos.p(), btags.p(), cache_rows, kv_heads, capacity, dh, vec);
    });
    std::string name = dims("kv_store_%s R=%d Hkv=%d cap=%d dh=%d T=%d%s", type_name<T>(), cache_rows, kv_heads, capacity, dh, tokens,
                            vec ? " vec" : " scalar");
    report_exact(name + " keys", want_k, cache_k);
    report_exact(name + " values", want_v, cache_v);
    report_exact(name + " tags", want_tags, key_tags);
}

template <typename TS, typename TD>
static void check_kv_gather(int cache_rows, int kv_heads, int capacity, int dh, int tokens, int shift, bool accumulate) {
    const size_t cache_n = (size_t)cache_rows * kv_heads * capacity * dh, token_n = (size_t)tokens * kv_heads * dh;
    auto gk = operand<TS>(cache_n), gv = operand<TS>(cache_n), k0 = operand<TD>(token_n), v0 = operand<TD>(token_n);
    Buf<TS> d_keys = upload<TS>(gk, shift), d_values = upload<TS>(gv, shift);
    Buf<TD> dk(token_n, Unwritten, shift), dv(token_n, Unwritten, shift);
    if (accumulate) for (size_t i = 0; i < token_n; ++i) { dk.set(i, k0[i]); dv.set(i, v0[i]); }
    std::vector<int> rows, positions;
    kv_slots(tokens, cache_rows, capacity, rows, positions);
    Buf<int> brows = int_buf(rows), bpos = int_buf(positions);
    std::vector<TD> want_k(token_n), want_v(token_n);
    for (int t = 0; t < tokens; ++t)
        for (int h = 0; h < kv_heads; ++h)
            for (int e = 0; e < dh; ++e) {
                size_t target = ((size_t)t * kv_heads + h) * dh + e;
                if (!inside(rows[t], cache_rows) || !inside(positions[t], capacity)) {
                    want_k[target] = want_v[target] = nan_of<TD>();
                    continue;
                }
                size_t slot = (((size_t)rows[t] * kv_heads + h) * capacity + positions[t]) * dh + e;
                want_k[target] = ref_round<TD>(accumulate ? k0[target] + gk[slot] : gk[slot]);
                want_v[target] = ref_round<TD>(accumulate ? v0[target] + gv[slot] : gv[slot]);
            }
    auto kernel = pick2<TS, TD>(kv_gather_bf16_bf16, kv_gather_bf16_f32, kv_gather_f32_bf16, kv_gather_f32_f32);
    const int vec = dh % 8 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)tokens, (unsigned)kv_heads, 1}, block_of(kKvThreads), 0, nullptr, [&] {
        kernel(dk.p(), dv.p(), d_keys.p(), d_values.p(), brows.p(), bpos.p(), cache_rows, kv_heads, capacity, dh, vec, accumulate);
    });
    std::string name = dims("kv_gather_%s_%s R=%d Hkv=%d cap=%d dh=%d T=%d%s%s", type_name<TS>(), type_name<TD>(), cache_rows, kv_heads,
                            capacity, dh, tokens, vec ? " vec" : " scalar", accumulate ? " acc" : "");
    report_exact(name + " dk", want_k, dk);
    report_exact(name + " dv", want_v, dv);
}

static void row_checks() {
    check_embedding<bf16, bf16>(50, 264, 7, 0);
    check_embedding<bf16, float>(40, 13, 5, 0);
    check_embedding<float, bf16>(30, 1032, 4, 0);
    check_embedding<float, float>(30, 24, 6, 1);
    check_gather_convert<bf16, float>("gather_rows_bf16_f32", gather_rows_bf16_f32, 20, 40, 9, 0);
    check_gather_convert<float, bf16>("gather_rows_f32_bf16", gather_rows_f32_bf16, 20, 21, 6, 0);
    check_gather_convert<float, bf16>("gather_rows_f32_bf16", gather_rows_f32_bf16, 12, 16, 5, 1);
    check_gather_bytes(10, 4128, 6, 0);  // bf16 rows of 2064: 16-byte granules, two passes of the block
    check_gather_bytes(10, 52, 7, 0);    // fp32 or int rows of 13: 4-byte granules
    check_gather_bytes(9, 6, 5, 0);      // bf16 rows of 3: bytes
    check_gather_bytes(9, 48, 5, 1);     // unaligned tensors: bytes
    check_scatter_bytes(12, 4128, 6, 0);
    check_scatter_bytes(12, 20, 9, 0);
    check_scatter_bytes(12, 10, 9, 1);
    check_scatter_convert<bf16, float>(11, 40, 6, 0);
    check_scatter_convert<float, bf16>(11, 13, 7, 0);
    check_scatter_convert<float, bf16>(11, 16, 5, 1);
    check_scatter_add<bf16, bf16>(7, 16, 30, 0);
    check_scatter_add<bf16, float>(5, 1032, 9, 0);   // two column passes of the block
    check_scatter_add<float, bf16>(6, 130, 12, 0);   // two column passes, scalar
    check_scatter_add<float, float>(4, 8, 1100, 0);  // two index chunks
    check_scatter_add<float, float>(5, 24, 14, 1);
    check_zero_rows(10, 4128, 5, 0);
    check_zero_rows(10, 36, 6, 0);
    check_zero_rows(10, 6, 6, 1);
    check_kv_store<bf16>(3, 2, 9, 128, 7, 0);
    check_kv_store<float>(2, 3, 5, 20, 6, 0);
    check_kv_store<bf16>(2, 1, 4, 64, 5, 1);
    check_kv_gather<bf16, bf16>(3, 2, 9, 128, 7, 0, true);
    check_kv_gather<bf16, float>(2, 3, 5, 40, 6, 0, false);
    check_kv_gather<float, bf16>(2, 2, 6, 20, 5, 0, true);
    check_kv_gather<float, float>(2, 1, 4, 64, 5, 1, true);
}

// ---- losses.cu --------------------------------------------------------------------------------------------------
constexpr int kLossThreads = 512;  // CudaBackend.LossThreads (LOSS_THREADS)

// Logits rows [n, v]: values in +-4, some masked to -inf.
static std::vector<float> logit_rows(int n, int v, float scale = 4) {
    std::vector<float> l = operand<float>((size_t)n * v, scale);
    for (int r = 0; r < n; ++r)
        for (int k = 0; k < v / 50; ++k) l[(size_t)r * v + rng() % v] = -Inf;
    return l;
}

static int r_invalid_target(int v);

// Row r with target -1 is ignored (loss 0, gradient 0 exactly), with a target outside [-1, v) NaN; the others are
// compared with float64 (logsumexp - picked; (softmax - onehot) * scale).
static void check_softmax_xent(int n, int v, int shift, bool in_place) {
    auto ls = logit_rows(n, v);
    std::vector<int> targets(n);
    for (int r = 0; r < n; ++r) {
        do targets[r] = rng() % v; while (std::isinf(ls[(size_t)r * v + targets[r]]));
    }
    if (n >= 3) { targets[1] = -1; targets[2] = r_invalid_target(v); }
    Buf<float> logits = upload<float>(ls, shift), d_apart((size_t)n * v, Unwritten, shift), losses(n, Unwritten);
    Buf<float>& d = in_place ? logits : d_apart;
    Buf<int> bt = int_buf(targets);
    const float scale = 0.37f;
    std::vector<double> want_loss(n), want_d((size_t)n * v);
    for (int r = 0; r < n; ++r) {
        const float* l = &ls[(size_t)r * v];
        double* g = &want_d[(size_t)r * v];
        if (targets[r] < 0 || targets[r] >= v) {
            want_loss[r] = targets[r] == -1 ? 0 : NaN;
            for (int c = 0; c < v; ++c) g[c] = want_loss[r];
            continue;
        }
        double m = -INFINITY, sum = 0;
        for (int c = 0; c < v; ++c) m = std::max(m, (double)l[c]);
        for (int c = 0; c < v; ++c) sum += std::exp(l[c] - m);
        want_loss[r] = m + std::log(sum) - l[targets[r]];
        for (int c = 0; c < v; ++c) g[c] = (std::exp(l[c] - m) / sum - (c == targets[r])) * scale;
    }
    const int vec = v % 4 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)n, 1, 1}, block_of(kLossThreads), 0, nullptr,
                [&] { softmax_xent_f32(losses.p(), d.p(), logits.p(), bt.p(), v, scale, vec); });
    std::string name = dims("softmax_xent_f32 n=%d V=%d%s%s", n, v, vec ? " vec" : " scalar", in_place ? " in-place" : "");
    check_close(name + " loss", want_loss, losses, 1e-6);
    check_close(name + " dlogits", want_d, d, 1e-5);
    if (n >= 3) {  // the ignored row exactly 0, not merely small
        std::vector<float> zeros(v, 0.0f);
        Buf<float> row(v, 0);
        for (int c = 0; c < v; ++c) row[c] = d[(size_t)v + c];
        report_exact(name + " ignored row", zeros, row);
    }
}
static int r_invalid_target(int v) { return rng() % 2 ? v : -2; }

// KL(P || Q) per row with p = softmax(reference) (some reference logits -inf: p = 0 terms), q = softmax(logits);
// a row whose logits equal the reference must give exactly 0.
static void check_kl(int n, int v, int shift, bool in_place) {
    auto rs = logit_rows(n, v, 3), ls = operand<float>((size_t)n * v, 3);
    for (int c = 0; c < v; ++c) ls[c] = rs[c];  // row 0: identical distributions
    Buf<float> reference = upload<float>(rs, shift), logits = upload<float>(ls, shift), d_apart((size_t)n * v, NaN, shift), losses(n);
    Buf<float>& d = in_place ? logits : d_apart;
    const float scale = 1.7f;
    std::vector<double> want_loss(n), want_d((size_t)n * v);
    for (int r = 0; r < n; ++r) {
        const float* a = &rs[(size_t)r * v];
        const float* b = &ls[(size_t)r * v];
        double ma = -INFINITY, mb = -INFINITY, sa = 0, sb = 0, kl = 0;
        for (int c = 0; c < v; ++c) { ma = std::max(ma, (double)a[c]); mb = std::max(mb, (double)b[c]); }
        for (int c = 0; c < v; ++c) { sa += std::exp(a[c] - ma); sb += std::exp(b[c] - mb); }
        for (int c = 0; c < v; ++c) {
            double p = std::exp(a[c] - ma) / sa, q = std::exp(b[c] - mb) / sb;
            if (p > 0) kl += p * (std::log(p) - std::log(q));
            want_d[(size_t)r * v + c] = (q - p) * scale;
        }
        want_loss[r] = r == 0 ? 0 : kl;
    }
    const int vec = v % 4 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)n, 1, 1}, block_of(kLossThreads), 0, nullptr,
                [&] { kl_div_f32(losses.p(), d.p(), reference.p(), logits.p(), v, scale, vec); });
    std::string name = dims("kl_div_f32 n=%d V=%d%s%s", n, v, vec ? " vec" : " scalar", in_place ? " in-place" : "");
    check_close(name + " loss", want_loss, losses, 1e-5);
    check_close(name + " dlogits", want_d, d, 1e-5);
    std::vector<float> zero{0.0f};
    Buf<float> first(1, 0);
    first[0] = losses[0];
    report_exact(name + " loss of identical rows", zero, first);
}

static void loss_checks() {
    check_softmax_xent(4, 1000, 0, false);
    check_softmax_xent(3, 1001, 0, true);
    check_softmax_xent(3, 4100, 0, true);
    check_softmax_xent(3, 70, 1, false);
    check_softmax_xent(1, 65536, 0, true);
    check_kl(3, 1000, 0, true);
    check_kl(3, 4099, 0, false);
    check_kl(2, 40, 1, false);
}

// ---- sampling.cu ------------------------------------------------------------------------------------------------
constexpr int kLogitThreads = 256;   // CudaBackend.LogitThreads
constexpr int kSampleThreads = 512;  // CudaBackend.SampleThreads (SAMPLE_THREADS)

// CudaBackend.LogitGrid: (column blocks, rows), a thread per element or per float4.
static dim3 logit_grid(int rows, int v, bool vec) {
    int per_block = kLogitThreads * (vec ? 4 : 1);
    return dim3{(unsigned)((v + per_block - 1) / per_block), (unsigned)rows, 1};
}

// cond + (scale - 1) * (cond - uncond) in fp32 as C# computes it: exact, and exactly cond at scale 1.
static void check_cfg(int n, int v, int shift, bool in_place) {
    auto cs = logit_rows(n, v), us = operand<float>((size_t)n * v, 4);
    std::vector<float> scales(n);
    for (int r = 0; r < n; ++r) scales[r] = r == 0 ? 1.0f : 1 + std::fabs(uni(6));
    Buf<float> cond = upload<float>(cs, shift), uncond = upload<float>(us, shift), out_apart((size_t)n * v, NaN, shift);
    Buf<float> bscales = upload<float>(scales);
    Buf<float>& out = in_place ? cond : out_apart;
    std::vector<float> want((size_t)n * v);
    for (int r = 0; r < n; ++r) {
        float g = scales[r] - 1.0f;
        for (int c = 0; c < v; ++c) {
            size_t i = (size_t)r * v + c;
            float diff = cs[i] - us[i], product = g * diff;
            want[i] = cs[i] + product;
        }
    }
    const bool vec = v % 4 == 0 && shift == 0;
    emu::launch(logit_grid(n, v, vec), block_of(kLogitThreads), 0, nullptr,
                [&] { cfg_combine_f32(out.p(), cond.p(), uncond.p(), bscales.p(), v, vec); });
    report_exact(dims("cfg_combine_f32 n=%d V=%d%s%s (row 0 scale 1)", n, v, vec ? " vec" : " scalar", in_place ? " in-place" : ""), want, out);
}

// rules (forced, from, to) as ConstrainLogits applies them; a rule the CPU rejects masks the whole row.
static void check_constrain(int v, int shift) {
    std::vector<std::array<int, 3>> rules = {
        {5, 0, 0}, {v - 1, 0, 0}, {2, 0, 0} /* forced on a -inf logit: 0 */, {-1, 3, v - 2}, {-1, 0, v}, {-1, v - 1, v},
        {v, 0, 0} /* rejected */, {-1, -1, 4}, {-1, 5, v + 1}, {-1, 7, 7}, {-1, 9, 8}};
    const int n = (int)rules.size();
    auto ls = logit_rows(n, v);
    ls[2 * (size_t)v + 2] = -Inf;
    Buf<float> logits = upload<float>(ls, shift);
    std::vector<int> flat;
    for (auto& r : rules) flat.insert(flat.end(), r.begin(), r.end());
    Buf<int> brules = int_buf(flat);
    std::vector<float> want((size_t)n * v);
    for (int r = 0; r < n; ++r) {
        auto [forced, from, to] = rules[r];
        bool reject = forced >= v || (forced < 0 && (from < 0 || to > v || from >= to));
        for (int c = 0; c < v; ++c) {
            float x = ls[(size_t)r * v + c];
            bool keep = !reject && (forced >= 0 ? c == forced : c >= from && c < to);
            want[(size_t)r * v + c] = !keep ? -Inf : forced >= 0 && std::isinf(x) ? 0.0f : x;
        }
    }
    const bool vec = v % 4 == 0 && shift == 0;
    emu::launch(logit_grid(n, v, vec), block_of(kLogitThreads), 0, nullptr, [&] { constrain_logits_f32(logits.p(), brules.p(), v, vec); });
    report_exact(dims("constrain_logits_f32 n=%d V=%d%s (forced, windows, rejected rules)", n, v, vec ? " vec" : " scalar"), want, logits);
}

// Philox4x32-10 as Managed/Backends/Philox.cs writes it, and its Uniform.
static float philox_uniform(uint64_t seed, uint64_t counter) {
    uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32), c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    for (int round = 0; round < 10; ++round) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ key0, n2 = hi0 ^ c3 ^ key1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        key0 += 0x9E3779B9u;
        key1 += 0xBB67AE85u;
    }
    return (c0 >> 8) * (1.0f / 16777216.0f);
}

// TopKSampler.Sample with the CPU backend's checks: -1 where the CPU throws (temperature not a positive finite
// number, every logit -inf or NaN).
static int reference_sample(const float* logits, int v, int k, float temperature, float u) {
    if (!(temperature > 0) || std::isinf(temperature)) return -1;
    float threshold = -Inf;
    if (k > 0 && k < v) {
        std::vector<float> sorted(logits, logits + v);
        std::sort(sorted.begin(), sorted.end(), [](float a, float b) { return a > b || (!std::isnan(a) && std::isnan(b)); });
        threshold = sorted[k - 1];
    }
    float max = -Inf;
    for (int i = 0; i < v; ++i) if (logits[i] > max) max = logits[i];
    if (max == -Inf) return -1;  // every logit -inf or NaN
    std::vector<float> w(v);
    double total = 0;
    for (int i = 0; i < v; ++i) {
        float x = logits[i];
        w[i] = x >= threshold && !(std::isinf(x) && x < 0) ? expf((x - max) / temperature) : 0.0f;
        total += w[i];
    }
    double target = u * total, cumulative = 0;
    int last = -1;
    for (int i = 0; i < v; ++i) {
        if (w[i] == 0) continue;
        cumulative += w[i];
        last = i;
        if (cumulative > target) return i;
    }
    return last;
}

struct SampleRow {
    std::vector<float> logits;
    int k;
    float temperature;
    uint64_t seed, counter;
};

// A counter whose draw u is below 2^-12 (low) or above 1 - 2^-12: the first or the last candidate by cumulative weight.
static uint64_t extreme_counter(uint64_t seed, bool low) {
    for (uint64_t c = 1;; ++c) {
        float u = philox_uniform(seed, c);
        if (low ? u < 1.0f / 4096 : u > 1 - 1.0f / 4096) return c;
    }
}

static void check_sample(const std::string& label, int v, const std::vector<SampleRow>& rows, int shift) {
    const int n = (int)rows.size();
    std::vector<float> flat;
    std::vector<int> ks, keys, want_ids;
    std::vector<float> temps;
    for (auto& r : rows) {
        flat.insert(flat.end(), r.logits.begin(), r.logits.end());
        ks.push_back(r.k);
        temps.push_back(r.temperature);
        keys.insert(keys.end(), {(int)(uint32_t)r.seed, (int)(uint32_t)(r.seed >> 32), (int)(uint32_t)r.counter, (int)(uint32_t)(r.counter >> 32)});
        want_ids.push_back(reference_sample(r.logits.data(), v, r.k, r.temperature, philox_uniform(r.seed, r.counter)));
    }
    Buf<float> logits = upload<float>(flat, shift), btemps = upload<float>(temps);
    Buf<int> bk = int_buf(ks), bkeys = int_buf(keys), out(n);
    const int vec = v % 4 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)n, 1, 1}, block_of(kSampleThreads), 0, nullptr,
                [&] { sample_topk_f32(out.p(), logits.p(), bk.p(), btemps.p(), bkeys.p(), v, vec); });
    report_exact(dims("sample_topk_f32 n=%d V=%d%s ", n, v, vec ? " vec" : " scalar") + label, want_ids, out);
    // The logits are the op's input: unchanged.
    std::vector<float> same(flat);
    report_exact(dims("sample_topk_f32 n=%d V=%d logits unchanged", n, v), same, logits);
}

static SampleRow sample_row(int v, int k, float temperature, float spread = 4) {
    return {operand<float>(v, spread), k, temperature, ((uint64_t)rng() << 32) | rng(), rng()};
}

static void sample_checks_random(int v, int shift) {
    std::vector<SampleRow> rows;
    for (int k : {50, 1, 0, v, v - 1, -3, 7})
        rows.push_back(sample_row(v, k, k == 1 ? 1.0f : 0.5f + (rng() % 100) / 50.0f));
    rows.push_back(sample_row(v, 10, 1, 0.01f));  // nearly flat: the draw walks deep into the cumulative sum
    rows[7].counter = extreme_counter(rows[7].seed, false);
    rows.push_back(sample_row(v, 200, 1.3f));
    rows[8].counter = extreme_counter(rows[8].seed, true);
    rows.push_back(sample_row(v, 0, 0.7f, 1));
    rows[9].counter = extreme_counter(rows[9].seed, false);
    check_sample("random rows, k 50 1 0 V V-1 -3 7, u near 0 and 1", v, rows, shift);
}

// Ties at the threshold (every value tied with the k-th kept), NaN (below everything), -inf, signed zeros.
static void sample_checks_special(int v) {
    std::vector<SampleRow> rows;
    for (int k : {5, 37, 1, 300}) {
        SampleRow r = sample_row(v, k, 0.9f);
        for (auto& x : r.logits) x = (float)(rng() % 10) - 5;  // heavy ties
        for (int i = 0; i < v / 40; ++i) r.logits[rng() % v] = NaN;
        for (int i = 0; i < v / 30; ++i) r.logits[rng() % v] = -Inf;
        for (int i = 0; i < v / 30; ++i) r.logits[rng() % v] = (rng() % 2) ? 0.0f : -0.0f;
        rows.push_back(r);
    }
    SampleRow r = sample_row(v, 1, 1);  // the maximum tied three times, k = 1 keeps all three
    for (int i : {3, v / 2, v - 1}) r.logits[i] = 9;
    rows.push_back(r);
    r = sample_row(v, 10, 1);  // fewer finite logits than k
    for (auto& x : r.logits) x = -Inf;
    r.logits[4] = 1; r.logits[v - 2] = 1.5f; r.logits[v / 3] = NaN;
    rows.push_back(r);
    r = sample_row(v, 3, 1);  // every logit -inf
    for (auto& x : r.logits) x = -Inf;
    rows.push_back(r);
    r = sample_row(v, 0, 1);  // every logit NaN
    for (auto& x : r.logits) x = NaN;
    rows.push_back(r);
    for (float t : {0.0f, -1.0f, Inf, NaN}) rows.push_back(sample_row(v, 5, t));  // temperatures the CPU rejects
    for (int k : {0, 3}) {  // +inf logits: their weights are NaN, the CPU's walk never crosses and takes the last one
        r = sample_row(v, k, 1);
        r.logits[v / 5] = Inf;
        r.logits[v / 2] = Inf;
        rows.push_back(r);
    }
    r = sample_row(v, 4, 1);  // one candidate: a weight underflows to 0 for the rest
    r.logits.assign(v, -200);
    r.logits[v / 2] = 200;
    rows.push_back(r);
    check_sample("ties, NaN, +-inf, +-0, bad temperatures, all -inf, all NaN", v, rows, 0);
}

static void sample_checks() {
    check_cfg(3, 1000, 0, false);
    check_cfg(2, 1001, 0, true);
    check_cfg(2, 2048, 1, false);
    check_constrain(1000, 0);
    check_constrain(1003, 0);
    check_constrain(64, 1);
    sample_checks_random(1000, 0);
    sample_checks_random(1001, 0);
    sample_checks_random(2048, 1);
    sample_checks_special(1000);
    sample_checks_special(301);
    std::vector<SampleRow> tiny{sample_row(3, 0, 1), sample_row(3, 1, 1), sample_row(3, 2, 0.5f), sample_row(3, 3, 2)};
    check_sample("V=3, k 0 1 2 3", 3, tiny, 0);
    std::vector<SampleRow> four{sample_row(4, 0, 1), sample_row(4, 2, 1)};
    check_sample("V=4, k 0 2", 4, four, 0);
    std::vector<SampleRow> vocabulary{sample_row(65536, 0, 1), sample_row(65536, 2000, 0.8f)};  // the model's vocabulary
    check_sample("V of the model, k 0 and 2000", 65536, vocabulary, 0);
}

int main(int argc, char** argv) {
    return run_groups(argc, argv, {
        {"norm", norm_checks},
        {"rope", rope_checks},
        {"point", pointwise_checks},
        {"rows", row_checks},
        {"loss", loss_checks},
        {"sample", sample_checks},
    });
}
