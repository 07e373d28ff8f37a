// What every kernel check shares: device-like buffers with guards on both sides, NaN-poisoned contents, random
// operands, the launch-shape helpers the C# launchers use, and the comparisons (float64 reference within a normalized
// error, or exact) that print one ok/FAIL line each. Included after the kernel sources (it uses common.cuh's bf16).
#pragma once
#include <string>
#include <cstdarg>

static std::mt19937 rng(42);
static int failures = 0;
static float uni(float s = 1) { return std::uniform_real_distribution<float>(-s, s)(rng); }
static float rb(float f) { return bf16_to_float(float_to_bf16(f)); }
static const float NaN = __uint_as_float(0x7fc00000u);
static const float Inf = __uint_as_float(0x7f800000u);
// The poison of outputs where NaN is a right answer (a gather through a bad index): a value no check expects.
static const float Unwritten = __uint_as_float(0x6b6b6b6bu);
constexpr int G = 64;  // guard elements

// The value guard elements hold: huge for floats (a kernel that reads one shows in its results), an out-of-range
// index for integers.
template <typename T> static T sentinel();
template <> float sentinel<float>() { return -1.2345e30f; }
template <> bf16 sentinel<bf16>() { return float_to_bf16(-1.2345e30f); }
template <> double sentinel<double>() { return -1.2345e300; }
template <> int sentinel<int>() { return 0x7a5a5a5a; }
template <> unsigned char sentinel<unsigned char>() { return 0xa5; }

// Storing NaN (the poison of output buffers) into an integer buffer stores 0x6b bytes: "never written".
template <typename T> static void store_as(T& d, double v) {
    if (std::isnan(v)) std::memset(&d, 0x6b, sizeof(T)); else d = (T)v;
}
template <> void store_as<float>(float& d, double v) { d = (float)v; }
template <> void store_as<double>(double& d, double v) { d = v; }
template <> void store_as<bf16>(bf16& d, double v) { d = float_to_bf16((float)v); }
template <typename T> static double load_as(T v) { return (double)v; }
template <> double load_as<bf16>(bf16 v) { return bf16_to_float(v); }

// A device-like buffer of n elements: G guard elements on both sides hold sentinel<T>() and must survive the kernel.
// shift moves the start by that many elements off the 16-byte alignment the allocation has (an unaligned tensor).
template <typename T>
struct Buf {
    std::vector<T> all;
    size_t n, start;
    Buf(size_t n_, double fill = NaN, int shift = 0) : all(n_ + 2 * G + 16 + shift), n(n_), start(G + shift) {
        for (auto& v : all) v = sentinel<T>();
        for (size_t i = 0; i < n; ++i) store_as(all[start + i], fill);
    }
    T* p() { return all.data() + start; }
    T& operator[](size_t i) { return all[start + i]; }
    double at(size_t i) const { return load_as(all[start + i]); }
    void set(size_t i, double v) { store_as(all[start + i], v); }
    bool guards_ok() const {
        T s = sentinel<T>();
        for (size_t i = 0; i < start; ++i) if (std::memcmp(&all[i], &s, sizeof(T))) return false;
        for (size_t i = start + n; i < start + n + G; ++i) if (std::memcmp(&all[i], &s, sizeof(T))) return false;
        return true;
    }
    std::vector<double> values() const { std::vector<double> v(n); for (size_t i = 0; i < n; ++i) v[i] = at(i); return v; }
};

// Compares with a float64 reference: the normalized squared error within threshold, no NaN or Inf where a finite
// value is wanted (-inf where -inf is wanted passes), guards intact. skip masks elements out.
static void report(const std::string& name, const std::vector<double>& want, const float* got, size_t n,
                   double threshold, bool guards, const std::vector<char>* skip = nullptr) {
    double num = 0, den = 0, maxerr = 0; size_t bad = 0, first_bad = (size_t)-1;
    for (size_t i = 0; i < n; ++i) {
        if (skip && (*skip)[i]) continue;
        if (std::isinf(want[i]) && want[i] < 0 && std::isinf(got[i]) && got[i] < 0) continue;
        if (!std::isfinite(got[i])) { if (!bad++) first_bad = i; continue; }
        double d = got[i] - want[i];
        num += d * d; den += want[i] * want[i]; maxerr = std::max(maxerr, std::fabs(d));
    }
    double nmse = den > 0 ? num / den : num;
    bool ok = bad == 0 && nmse <= threshold && guards;
    if (!ok) failures++;
    printf("%s %-72s nmse %.2e max %.2e%s%s\n", ok ? "ok  " : "FAIL", name.c_str(), nmse, maxerr,
           bad ? (" NaN/Inf x" + std::to_string(bad) + " first " + std::to_string(first_bad) + " want " + std::to_string(want[first_bad])).c_str() : "",
           guards ? "" : " GUARD BROKEN");
}

template <typename T>
static void report(const std::string& name, const std::vector<double>& want, const Buf<T>& got, double threshold) {
    std::vector<float> g(got.n);
    for (size_t i = 0; i < got.n; ++i) g[i] = (float)got.at(i);
    report(name, want, g.data(), g.size(), threshold, got.guards_ok());
}

// Element by element: |got - want| <= tol (|want| + rms), rms the root mean square of the finite wanted values (so the
// tiny elements of a result, or a difference that cancels, are judged on the result's scale); a NaN or infinite
// wanted value must be matched as it is; guards intact. Catches a single wrong element, which a norm over the whole
// output could average away.
template <typename T>
static void check_close(const std::string& name, const std::vector<double>& want, const Buf<T>& got, double tol) {
    double sq = 0; size_t finite = 0;
    for (double w : want) if (std::isfinite(w)) { sq += w * w; finite++; }
    double rms = finite ? std::sqrt(sq / finite) : 0, worst = 0;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        double g = got.at(i), w = want[i];
        bool ok;
        if (!std::isfinite(w)) ok = std::isnan(w) ? std::isnan(g) : g == w;
        else if (!std::isfinite(g)) ok = false;
        else {
            double rel = std::fabs(g - w) / (std::fabs(w) + rms + 1e-300);
            worst = std::max(worst, rel);
            ok = rel <= tol;
        }
        if (!ok && !bad++) first = i;
    }
    bool guards = got.guards_ok(), ok = bad == 0 && guards && want.size() == got.n;
    if (!ok) failures++;
    char detail[160] = "";
    if (bad) snprintf(detail, sizeof detail, " %zu off, first %zu: want %.9g got %.9g", bad, first, want[first], got.at(first));
    printf("%s %-72s rel %.2e%s%s\n", ok ? "ok  " : "FAIL", name.c_str(), worst, detail, guards ? "" : " GUARD BROKEN");
}

// For a buffer the check reads nothing from (scratch between two kernels): only its guards.
template <typename T>
static void check_guards(const std::string& name, const Buf<T>& b) {
    bool ok = b.guards_ok();
    if (!ok) failures++;
    printf("%s %-72s guards%s\n", ok ? "ok  " : "FAIL", name.c_str(), ok ? "" : " GUARD BROKEN");
}

// Exact comparison: equal bits, or NaN where NaN is wanted (any NaN), guards intact.
template <typename T>
static bool same_value(T a, T b) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16>) {
        double x = load_as(a), y = load_as(b);
        if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
    }
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <typename T>
static void report_exact(const std::string& name, const std::vector<T>& want, const Buf<T>& got) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < want.size(); ++i)
        if (!same_value(want[i], got.all[got.start + i]) && !bad++) first = i;
    bool guards = got.guards_ok(), ok = bad == 0 && guards && want.size() == got.n;
    if (!ok) failures++;
    char detail[160] = "";
    if (bad) snprintf(detail, sizeof detail, " %zu differ, first %zu: want %.9g got %.9g", bad, first, load_as(want[first]), got.at(first));
    printf("%s %-72s exact%s%s\n", ok ? "ok  " : "FAIL", name.c_str(), detail, guards ? "" : " GUARD BROKEN");
}

// A bf16 rounding written independently of common.cuh's: the nearer of the two bf16 values around f, ties to the
// even one, infinity standing for 2^128 beyond the largest finite value (IEEE overflow); NaN stays NaN.
static bf16 ref_bf16(float f) {
    if (std::isnan(f)) return float_to_bf16(NaN);
    if (std::isinf(f)) return bf16{(unsigned short)(__float_as_uint(f) >> 16)};
    unsigned lo = __float_as_uint(f) & 0xffff0000u, hi = lo + 0x10000u;
    auto value = [](unsigned bits) {
        return (bits & 0x7fffffffu) == 0x7f800000u ? std::copysign(std::ldexp(1.0, 128), (double)__uint_as_float(bits))
                                                   : (double)__uint_as_float(bits);
    };
    double dlo = std::fabs((double)f - value(lo)), dhi = std::fabs(value(hi) - f);
    unsigned pick = dlo < dhi ? lo : dhi < dlo ? hi : ((lo >> 16) & 1 ? hi : lo);
    return bf16{(unsigned short)(pick >> 16)};
}
template <typename T> static T ref_round(double v);
template <> float ref_round<float>(double v) { return (float)v; }
template <> bf16 ref_round<bf16>(double v) { return ref_bf16((float)v); }

// ---------------------------------------------------------------------------------------------------------------
// Random operand values as a dtype stores them (bf16 rounds), and a guarded buffer holding them.
template <typename T>
static std::vector<float> operand(size_t count, float scale = 1) {
    std::vector<float> v(count);
    for (auto& x : v) x = std::is_same<T, bf16>::value ? rb(uni(scale)) : uni(scale);
    return v;
}
template <typename T>
static Buf<T> upload(const std::vector<float>& values, int shift = 0) {
    Buf<T> b(values.size(), 0, shift);
    for (size_t i = 0; i < values.size(); ++i) b.set(i, values[i]);
    return b;
}

// A check's name from printf arguments.
static std::string dims(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static std::string dims(const char* fmt, ...) {
    char text[240];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    return text;
}

template <typename T> constexpr const char* type_name() { return std::is_same_v<T, bf16> ? "bf16" : "f32"; }

// Launch shapes as CudaBackend computes them. Dim3.BlocksFor: ceil(work / threads) blocks, at least 1, at most cap;
// StrideGrid caps at 16 blocks per multiprocessor, and the checks pass small caps to make grid-stride loops go round.
static dim3 blocks_for(long long work, int threads, unsigned cap = 0x7fffffffu) {
    long long blocks = std::max(1LL, (work + threads - 1) / threads);
    return dim3{(unsigned)std::min<long long>(blocks, cap), 1, 1};
}
static dim3 block_of(int threads) { return dim3{(unsigned)threads, 1, 1}; }

// An operand whose storage type is a run-time flag (weights, incoming gradients): bf16 or f32, values drawn around
// centre within +-spread and kept as the storage holds them.
struct FlagBuf {
    bool is_bf16;
    std::vector<float> v;
    Buf<float> f;
    Buf<bf16> b;
    FlagBuf(size_t n, float centre, float spread, bool bf, int shift = 0)
        : is_bf16(bf), v(n), f(bf ? 0 : n, 0, shift), b(bf ? n : 0, 0, shift) {
        for (size_t i = 0; i < n; ++i) {
            v[i] = bf ? rb(centre + uni(spread)) : centre + uni(spread);
            if (bf) b.set(i, v[i]); else f.set(i, v[i]);
        }
    }
    const void* p() { return is_bf16 ? (const void*)b.p() : (const void*)f.p(); }
    int flag() const { return is_bf16 ? 1 : 0; }
    const char* name() const { return is_bf16 ? "bf16" : "f32"; }
};

// The bf16 or f32 instantiation of a kernel, by the activation type T.
template <typename T, typename KB, typename KF>
static auto pick(KB bf16_kernel, KF f32_kernel) {
    if constexpr (std::is_same_v<T, bf16>) return bf16_kernel; else return f32_kernel;
}
// Element-wise tolerance of an output stored as T: two bf16 roundings, or a few fp32 ones.
template <typename T> constexpr double tol_of() { return std::is_same_v<T, bf16> ? 1.0 / 256 : 2e-6; }

// CudaBackend's grid-stride launches: PointwiseThreads a block, StrideGrid capping at 16 blocks per multiprocessor
// (132 on an H100).
constexpr int kPointwiseThreads = 256;
constexpr int kMultiprocessors = 132;
constexpr unsigned kStrideCap = kMultiprocessors * 16;

// An I32 tensor holding v.
static Buf<int> int_buf(const std::vector<int>& v) {
    Buf<int> b(v.size(), 0);
    for (size_t i = 0; i < v.size(); ++i) b[i] = v[i];
    return b;
}
// Whether index i names one of `rows` rows (the kernels drop, or fill with NaN, what an index outside names).
static bool inside(int i, int rows) { return i >= 0 && i < rows; }
// NaN as a storage type holds it (0x6b bytes, "never written", for integers).
template <typename T> static T nan_of() { T t; store_as(t, NaN); return t; }

// Logits rows [n, v]: values in +-4, some masked to -inf.
static std::vector<float> logit_rows(int n, int v, float scale = 4) {
    std::vector<float> l = operand<float>((size_t)n * v, scale);
    for (int r = 0; r < n; ++r)
        for (int k = 0; k < v / 50; ++k) l[(size_t)r * v + rng() % v] = -Inf;
    return l;
}

// Runs the group named by argv[1] (every group when none) with the schedule of argv[2..4]:
// [deferred|eager [order [seed]]] (see run.sh). Prints the failure count last; returns the exit code.
static int run_groups(int argc, char** argv, const std::vector<std::pair<std::string, std::function<void()>>>& groups) {
    std::string only = argc > 1 ? argv[1] : "";
    if (argc > 2) emu::g_state.async_deferred = std::string(argv[2]) != "eager";
    if (argc > 3) emu::g_state.order = atoi(argv[3]);
    if (argc > 4) emu::g_state.rng.seed(atoi(argv[4]));
    bool known = only.empty();
    for (auto& [name, run] : groups)
        if (only.empty() || only == name) { known = true; run(); }
    if (!known) {
        fprintf(stderr, "unknown group '%s'; this binary has:", only.c_str());
        for (auto& g : groups) fprintf(stderr, " %s", g.first.c_str());
        fprintf(stderr, "\n");
        return 2;
    }
    printf("%d failure(s)\n", failures);
    return failures != 0;
}
