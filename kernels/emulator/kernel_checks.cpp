// Runs the engine's CUDA kernels on the CPU emulator (cuda_emulation.h) and compares them with float64 references:
// every GEMM, GEMV and attention variant at odd shapes, on inputs poisoned the way the conformance suite poisons them.
// Usage: kernel_checks [group [deferred|eager [schedule [seed]]]]; built and run by run.sh.
#include "src/gemm.cu"
#include "src/gemm_decode.cu"
#include "src/gemm_simt.cu"
#include "src/weight_gradient.cu"
#include "src/attention.cu"
#include "src/attention_decode.cu"
#include "src/attention_backward.cu"
#include <string>

namespace gemm { alignas(128) unsigned char gemm_shared[1 << 16]; }
namespace attn { alignas(128) unsigned char attn_shared[1 << 17]; alignas(128) unsigned char attn_bwd_shared[1 << 17]; }

#include "check_support.h"

// Checks y [m, n] = sum_k a[i, k] B(k, j) (+ y, whose starting values are drawn when accumulating) against float64;
// `run` launches the kernel on the output it is given (f32 or bf16).
static void check_product(const std::string& label, int m, int n, int k, const std::vector<float>& a,
                          const std::function<double(int, int)>& b_at, bool out_f32, bool accumulate,
                          const std::function<void(void*)>& run) {
    Buf<float> yf(m * (size_t)n); Buf<bf16> yb(m * (size_t)n);
    std::vector<double> want(m * (size_t)n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double sum = 0;
            if (accumulate) { float v = rb(uni()); sum = v; yf.p()[i * n + j] = v; yb.p()[i * n + j] = float_to_bf16(v); }
            for (int kk = 0; kk < k; ++kk) sum += (double)a[i * (size_t)k + kk] * b_at(kk, j);
            want[i * (size_t)n + j] = sum;
        }
    run(out_f32 ? (void*)yf.p() : (void*)yb.p());
    std::vector<float> got(m * (size_t)n);
    for (size_t i = 0; i < got.size(); ++i) got[i] = out_f32 ? yf.at(i) : yb.at(i);
    char dims[120];
    snprintf(dims, sizeof dims, " m=%d n=%d k=%d %s%s", m, n, k, out_f32 ? "f32" : "bf16", accumulate ? " acc" : "");
    report(label + dims, want, got.data(), got.size(), out_f32 ? 1e-10 : 2e-5, out_f32 ? yf.guards_ok() : yb.guards_ok());
}

template <typename TA>
using GemmKernel = void (*)(const TA*, const bf16*, void*, int, int, int, int, int, int);

template <typename TA>
static void test_gemm(const char* name, GemmKernel<TA> kern, int bm, int bn, int threads, bool nn, int m, int n, int k,
                      bool out_f32, bool accumulate) {
    auto af = operand<TA>(m * (size_t)k);
    auto bfv = operand<bf16>(n * (size_t)k, 1.0f / std::sqrt((float)k));
    auto a = upload<TA>(af);
    auto b = upload<bf16>(bfv);
    // The kernel rounds an f32 A to bf16 as it stages it: so does the reference.
    std::vector<float> a_used(af.size());
    for (size_t i = 0; i < af.size(); ++i) a_used[i] = rb(af[i]);
    check_product(name, m, n, k, a_used, [&](int kk, int j) { return nn ? bfv[kk * (size_t)n + j] : bfv[j * (size_t)k + kk]; },
                  out_f32, accumulate, [&](void* y) {
                      dim3 grid{(unsigned)((m + bm - 1) / bm), (unsigned)((n + bn - 1) / bn), 1};
                      emu::launch(grid, dim3{(unsigned)threads, 1, 1}, 3 * (bm + bn) * 32 * 2, gemm::gemm_shared,
                                  [&] { kern(a.p(), b.p(), y, m, n, k, out_f32, accumulate, n % 2 == 0); }, sizeof gemm::gemm_shared);
                  });
}

// dW [n, k] = dy[tokens, n]^T x[tokens, k] (+ dW), dW fp32, launched as CudaGemm.WeightGradient does.
template <typename T>
static void test_weight_gradient(const char* name, void (*kern)(const T*, const T*, float*, int, int, int, int, int),
                                 int bm, int threads, int tokens, int n, int k, bool accumulate) {
    auto dyf = operand<T>(tokens * (size_t)n);
    auto xf = operand<T>(tokens * (size_t)k);
    auto dy = upload<T>(dyf);
    auto x = upload<T>(xf);
    // A(i, c) = dy[c, i]: the product's A is dy transposed; f32 operands are rounded to bf16 as they are staged.
    std::vector<float> a(n * (size_t)tokens);
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < tokens; ++c) a[i * (size_t)tokens + c] = rb(dyf[c * (size_t)n + i]);
    check_product(name, n, k, tokens, a, [&](int c, int j) { return (double)rb(xf[c * (size_t)k + j]); }, true, accumulate,
                  [&](void* dw) {
                      dim3 grid{(unsigned)((n + bm - 1) / bm), (unsigned)((k + bm - 1) / bm), 1};
                      emu::launch(grid, dim3{(unsigned)threads, 1, 1}, 3 * (bm + bm) * 32 * 2, gemm::gemm_shared,
                                  [&] { kern(dy.p(), x.p(), (float*)dw, n, k, tokens, accumulate, k % 2 == 0); }, sizeof gemm::gemm_shared);
                  });
}

template <typename TX, typename TW>
static void test_gemv(const char* name, void (*kern)(const TX*, const TW*, void*, int, int, int, int, int, int), int m,
                      int n, int k, bool out_f32, bool accumulate, bool vec) {
    auto xf = operand<TX>(m * (size_t)k);
    auto wf = operand<TW>(n * (size_t)k);
    auto x = upload<TX>(xf);
    auto w = upload<TW>(wf);
    check_product(std::string(name) + (vec ? " vec" : " scalar"), m, n, k, xf, [&](int kk, int j) { return wf[j * (size_t)k + kk]; },
                  out_f32, accumulate, [&](void* y) {
                      emu::launch(dim3{(unsigned)((n + 3) / 4), 1, 1}, dim3{256, 1, 1}, 0, nullptr,
                                  [&] { kern(x.p(), w.p(), y, m, n, k, out_f32, accumulate, vec); });
                  });
}

template <typename TA>
static void test_simt(const char* name, void (*kern)(const TA*, const float*, void*, int, int, int, long long, long long, int, int),
                      bool nn, int m, int n, int k, bool out_f32, bool accumulate) {
    auto af = operand<TA>(m * (size_t)k);
    auto bfv = operand<float>(n * (size_t)k);
    auto a = upload<TA>(af);
    auto b = upload<float>(bfv);
    check_product(std::string(name) + (nn ? " NN" : " NT"), m, n, k, af,
                  [&](int kk, int j) { return nn ? bfv[kk * (size_t)n + j] : bfv[j * (size_t)k + kk]; }, out_f32, accumulate,
                  [&](void* y) {
                      emu::launch(dim3{(unsigned)((m + 63) / 64), (unsigned)((n + 63) / 64), 1}, dim3{256, 1, 1}, 0, nullptr,
                                  [&] { kern(a.p(), b.p(), y, m, n, k, nn ? n : 1, nn ? 1 : k, out_f32, accumulate); });
                  });
}

// ---------------------------------------------------------------------------------------------------------------
struct AttnData {
    int R, H, Hkv, dh, cap, T;
    std::vector<int> rows, pos, tags;
    std::vector<float> q, k, v;  // q [T, H, dh]; k, v [R, Hkv, cap, dh] (NaN where never written)
    std::vector<int> key_tags;   // [R, cap]
    float scale;
};

// rows: for each cache row, (context already cached, new tokens); the new tokens' queries run. Token order is
// row-major unless interleave, which deals them out round-robin (a packing nothing requires to be contiguous).
static AttnData make_attn(std::vector<std::pair<int, int>> rowspec, int H, int Hkv, int dh, bool tagged, bool interleave, int extra_cap = 5) {
    AttnData d;
    d.R = rowspec.size(); d.H = H; d.Hkv = Hkv; d.dh = dh;
    int maxlen = 0; for (auto& [c, n] : rowspec) maxlen = std::max(maxlen, c + n);
    d.cap = maxlen + extra_cap;
    d.k.assign((size_t)d.R * Hkv * d.cap * dh, NaN); d.v = d.k;
    d.key_tags.assign((size_t)d.R * d.cap, 0);
    for (int r = 0; r < d.R; ++r)
        for (int j = 0; j < rowspec[r].first + rowspec[r].second; ++j) {
            d.key_tags[r * d.cap + j] = tagged ? (int)(rng() % 3) : 0;
            for (int hk = 0; hk < Hkv; ++hk)
                for (int e = 0; e < dh; ++e) {
                    size_t at = (((size_t)r * Hkv + hk) * d.cap + j) * dh + e;
                    d.k[at] = rb(uni()); d.v[at] = rb(uni());
                }
        }
    std::vector<std::vector<int>> per(d.R);
    for (int r = 0; r < d.R; ++r) for (int i = 0; i < rowspec[r].second; ++i) per[r].push_back(rowspec[r].first + i);
    if (interleave) {
        bool any = true;
        for (int i = 0; any; ++i) { any = false; for (int r = 0; r < d.R; ++r) if (i < (int)per[r].size()) { d.rows.push_back(r); d.pos.push_back(per[r][i]); any = true; } }
    } else {
        for (int r = 0; r < d.R; ++r) for (int p : per[r]) { d.rows.push_back(r); d.pos.push_back(p); }
    }
    d.T = d.rows.size();
    for (int t = 0; t < d.T; ++t) d.tags.push_back(d.key_tags[d.rows[t] * d.cap + d.pos[t]]);
    d.q.resize((size_t)d.T * H * dh); for (auto& x : d.q) x = rb(uni(2));
    d.scale = 1.0f / std::sqrt((float)dh);
    return d;
}

static bool visible(int qt, int kt) { return qt == 0 || kt == 0 || qt == kt; }

static void ref_forward(const AttnData& d, std::vector<double>& out, std::vector<double>& lse) {
    out.assign((size_t)d.T * d.H * d.dh, 0); lse.assign((size_t)d.T * d.H, 0);
    int group = d.H / d.Hkv;
    for (int t = 0; t < d.T; ++t)
        for (int h = 0; h < d.H; ++h) {
            int r = d.rows[t], kvh = h / group;
            std::vector<double> s(d.pos[t] + 1, -INFINITY);
            double mx = -INFINITY;
            for (int j = 0; j <= d.pos[t]; ++j) {
                if (!visible(d.tags[t], d.key_tags[r * d.cap + j])) continue;
                double dot = 0;
                for (int e = 0; e < d.dh; ++e) dot += (double)d.q[((size_t)t * d.H + h) * d.dh + e] * d.k[(((size_t)r * d.Hkv + kvh) * d.cap + j) * d.dh + e];
                s[j] = dot * d.scale; mx = std::max(mx, s[j]);
            }
            double sum = 0; for (double x : s) sum += std::isinf(x) ? 0 : std::exp(x - mx);
            for (int j = 0; j <= d.pos[t]; ++j) {
                if (std::isinf(s[j])) continue;
                double p = std::exp(s[j] - mx) / sum;
                for (int e = 0; e < d.dh; ++e) out[((size_t)t * d.H + h) * d.dh + e] += p * d.v[(((size_t)r * d.Hkv + kvh) * d.cap + j) * d.dh + e];
            }
            lse[(size_t)t * d.H + h] = mx + std::log(sum);
        }
}

struct DevAttn {
    Buf<bf16> q, k, v; Buf<int> kt, rows, pos, tags;
    DevAttn(const AttnData& d) : q(d.q.size(), 0), k(d.k.size(), 0), v(d.v.size(), 0), kt(d.key_tags.size(), 0),
                                 rows(d.T, 0), pos(d.T, 0), tags(d.T, 0) {
        for (size_t i = 0; i < d.q.size(); ++i) q.p()[i] = float_to_bf16(d.q[i]);
        for (size_t i = 0; i < d.k.size(); ++i) { k.p()[i] = float_to_bf16(d.k[i]); v.p()[i] = float_to_bf16(d.v[i]); }
        for (size_t i = 0; i < d.key_tags.size(); ++i) kt.p()[i] = d.key_tags[i];
        for (int t = 0; t < d.T; ++t) { rows.p()[t] = d.rows[t]; pos.p()[t] = d.pos[t]; tags.p()[t] = d.tags[t]; }
    }
};

using FwdKernel = void (*)(const bf16*, const bf16*, const bf16*, const int*, const int*, const int*, const int*, bf16*, float*, int, int, int, int, int, int, float);
using DecKernel = void (*)(const bf16*, const bf16*, const bf16*, const int*, const int*, const int*, const int*, float*, float*, int, int, int, int, int, int, float, int);

static void test_forward(const std::string& name, const AttnData& d, int dmax, bool vec, bool decode) {
    std::vector<double> want_o, want_l;
    ref_forward(d, want_o, want_l);
    DevAttn dev(d);
    Buf<bf16> out(want_o.size()); Buf<float> lse(want_l.size());
    float sl2 = d.scale * 1.4426950408889634f;
    if (!decode) {
        FwdKernel kern = dmax == 128 ? (vec ? attention_fwd_128_bf16 : attention_fwd_128_unaligned_bf16)
                                     : (vec ? attention_fwd_64_bf16 : attention_fwd_64_unaligned_bf16);
        emu::launch(dim3{(unsigned)((d.T + 63) / 64), (unsigned)d.H, 1}, dim3{128, 1, 1}, 3 * 64 * dmax * 2 + 260 * 4, attn::attn_shared,
                    [&] { kern(dev.q.p(), dev.k.p(), dev.v.p(), dev.kt.p(), dev.rows.p(), dev.pos.p(), dev.tags.p(), out.p(), lse.p(), d.T, d.H, d.Hkv, d.R, d.cap, d.dh, sl2); }, sizeof attn::attn_shared);
    } else {
        DecKernel kern = dmax == 128 ? (vec ? attention_decode_128_bf16 : attention_decode_128_unaligned_bf16)
                                     : (vec ? attention_decode_64_bf16 : attention_decode_64_unaligned_bf16);
        int chunks = (d.cap + 255) / 256;
        Buf<float> po((size_t)d.T * d.H * chunks * d.dh), pml((size_t)d.T * d.H * chunks * 2);
        emu::launch(dim3{(unsigned)chunks, (unsigned)d.H, (unsigned)d.T}, dim3{128, 1, 1}, 0, nullptr,
                    [&] { kern(dev.q.p(), dev.k.p(), dev.v.p(), dev.kt.p(), dev.rows.p(), dev.pos.p(), dev.tags.p(), po.p(), pml.p(), d.T, d.H, d.Hkv, d.R, d.cap, d.dh, sl2, chunks); });
        emu::launch(dim3{(unsigned)d.H, (unsigned)d.T, 1}, dim3{128, 1, 1}, 0, nullptr,
                    [&] { attention_decode_combine_bf16(po.p(), pml.p(), dev.rows.p(), dev.pos.p(), out.p(), lse.p(), d.T, d.H, d.R, d.cap, d.dh, chunks); });
    }
    std::vector<float> go(want_o.size()), gl(want_l.size());
    for (size_t i = 0; i < go.size(); ++i) go[i] = out.at(i);
    for (size_t i = 0; i < gl.size(); ++i) gl[i] = lse.at(i);
    report(name + " out", want_o, go.data(), go.size(), 2e-5, out.guards_ok());
    report(name + " lse", want_l, gl.data(), gl.size(), 1e-8, lse.guards_ok());
}

using DqKernel = void (*)(const bf16*, const bf16*, const bf16*, const int*, const int*, const int*, const int*, const float*, const float*, const bf16*, void*, int, int, int, int, int, int, int, float, float);
using DkdvKernel = void (*)(const bf16*, const bf16*, const bf16*, const int*, const int*, const int*, const int*, const float*, const float*, const bf16*, const int*, void*, void*, int, int, int, int, int, int, int, int, float, float);

static void test_backward(const std::string& name, const AttnData& d, int dmax, bool vec, bool grads_f32) {
    std::vector<double> fo, fl;
    ref_forward(d, fo, fl);
    // The forward's outputs as the model would keep them: O in bf16, lse in f32.
    std::vector<float> o(fo.size()), lse(fl.size()), dout(fo.size());
    for (size_t i = 0; i < fo.size(); ++i) { o[i] = rb((float)fo[i]); dout[i] = rb(uni()); }
    for (size_t i = 0; i < fl.size(); ++i) lse[i] = (float)fl[i];
    size_t kvn = d.k.size();
    std::vector<float> dk0(kvn), dv0(kvn);
    for (size_t i = 0; i < kvn; ++i) { dk0[i] = grads_f32 ? uni() : rb(uni()); dv0[i] = grads_f32 ? uni() : rb(uni()); }
    std::vector<double> want_dq((size_t)d.T * d.H * d.dh, 0), want_dk(dk0.begin(), dk0.end()), want_dv(dv0.begin(), dv0.end());
    int group = d.H / d.Hkv;
    for (int t = 0; t < d.T; ++t)
        for (int h = 0; h < d.H; ++h) {
            int r = d.rows[t], kvh = h / group;
            size_t qh = ((size_t)t * d.H + h) * d.dh;
            double delta = 0; for (int e = 0; e < d.dh; ++e) delta += (double)dout[qh + e] * o[qh + e];
            for (int j = 0; j <= d.pos[t]; ++j) {
                if (!visible(d.tags[t], d.key_tags[r * d.cap + j])) continue;
                size_t at = (((size_t)r * d.Hkv + kvh) * d.cap + j) * d.dh;
                double s = 0, dp = 0;
                for (int e = 0; e < d.dh; ++e) { s += (double)d.q[qh + e] * d.k[at + e]; dp += (double)dout[qh + e] * d.v[at + e]; }
                double p = std::exp(s * d.scale - lse[(size_t)t * d.H + h]);
                double ds = p * (dp - delta) * d.scale;
                for (int e = 0; e < d.dh; ++e) {
                    want_dv[at + e] += p * dout[qh + e];
                    want_dq[qh + e] += ds * d.k[at + e];
                    want_dk[at + e] += ds * d.q[qh + e];
                }
            }
        }
    DevAttn dev(d);
    Buf<bf16> bo(o.size(), 0), bdo(o.size(), 0);
    for (size_t i = 0; i < o.size(); ++i) { bo.p()[i] = float_to_bf16(o[i]); bdo.p()[i] = float_to_bf16(dout[i]); }
    Buf<float> blse(lse.size(), 0); for (size_t i = 0; i < lse.size(); ++i) blse.p()[i] = lse[i];
    Buf<int> spans(3 * d.R); Buf<float> delta((size_t)d.T * d.H);
    Buf<float> dqf(want_dq.size()); Buf<bf16> dqb(want_dq.size());
    Buf<float> dkf(kvn), dvf(kvn); Buf<bf16> dkb(kvn), dvb(kvn);
    for (size_t i = 0; i < kvn; ++i) { dkf.p()[i] = dk0[i]; dvf.p()[i] = dv0[i]; dkb.p()[i] = float_to_bf16(dk0[i]); dvb.p()[i] = float_to_bf16(dv0[i]); }
    float sl2 = d.scale * 1.4426950408889634f;
    emu::launch(dim3{1, 1, 1}, dim3{1024, 1, 1}, 0, nullptr, [&] { attention_bwd_spans(dev.rows.p(), dev.pos.p(), d.T, d.R, d.cap, spans.p()); });
    emu::launch(dim3{(unsigned)((d.T * d.H + 7) / 8), 1, 1}, dim3{256, 1, 1}, 0, nullptr, [&] { attention_bwd_delta_bf16(bo.p(), bdo.p(), delta.p(), d.T * d.H, d.dh); });
    DqKernel dq = dmax == 128 ? (vec ? attention_bwd_dq_128_bf16 : attention_bwd_dq_128_unaligned_bf16) : (vec ? attention_bwd_dq_64_bf16 : attention_bwd_dq_64_unaligned_bf16);
    DkdvKernel dkdv = dmax == 128 ? (vec ? attention_bwd_dkdv_128_bf16 : attention_bwd_dkdv_128_unaligned_bf16) : (vec ? attention_bwd_dkdv_64_bf16 : attention_bwd_dkdv_64_unaligned_bf16);
    void* dqp = grads_f32 ? (void*)dqf.p() : (void*)dqb.p();
    void* dkp = grads_f32 ? (void*)dkf.p() : (void*)dkb.p();
    void* dvp = grads_f32 ? (void*)dvf.p() : (void*)dvb.p();
    emu::launch(dim3{(unsigned)((d.T + 63) / 64), (unsigned)d.H, 1}, dim3{128, 1, 1}, (2 * 64 + 2 * 32) * dmax * 2 + (32 + 5 * 64 + 2) * 4, attn::attn_bwd_shared,
                [&] { dq(dev.q.p(), dev.k.p(), dev.v.p(), dev.kt.p(), dev.rows.p(), dev.pos.p(), dev.tags.p(), blse.p(), delta.p(), bdo.p(), dqp, grads_f32, d.T, d.H, d.Hkv, d.R, d.cap, d.dh, d.scale, sl2); }, sizeof attn::attn_bwd_shared);
    emu::launch(dim3{(unsigned)((d.cap + 63) / 64), (unsigned)d.Hkv, (unsigned)d.R}, dim3{128, 1, 1}, (2 * 64 + 2 * 32) * dmax * 2 + (64 + 4 * 32) * 4, attn::attn_bwd_shared,
                [&] { dkdv(dev.q.p(), dev.k.p(), dev.v.p(), dev.kt.p(), dev.rows.p(), dev.pos.p(), dev.tags.p(), blse.p(), delta.p(), bdo.p(), spans.p(), dkp, dvp, grads_f32, grads_f32, d.T, d.H, d.Hkv, d.R, d.cap, d.dh, d.scale, sl2); }, sizeof attn::attn_bwd_shared);
    std::vector<float> g(want_dq.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = grads_f32 ? dqf.at(i) : dqb.at(i);
    double th = grads_f32 ? 2e-5 : 5e-5;
    report(name + " dq", want_dq, g.data(), g.size(), th, grads_f32 ? dqf.guards_ok() : dqb.guards_ok());
    // Slots never written hold NaN in the cache, but the gradient buffers start finite everywhere.
    std::vector<float> gk(kvn), gv(kvn);
    for (size_t i = 0; i < kvn; ++i) { gk[i] = grads_f32 ? dkf.at(i) : dkb.at(i); gv[i] = grads_f32 ? dvf.at(i) : dvb.at(i); }
    // compare only the change, so the initial values do not mask small errors
    std::vector<double> wdk(kvn), wdv(kvn); std::vector<float> cdk(kvn), cdv(kvn);
    for (size_t i = 0; i < kvn; ++i) {
        double k0 = grads_f32 ? dk0[i] : rb(dk0[i]), v0 = grads_f32 ? dv0[i] : rb(dv0[i]);
        wdk[i] = want_dk[i] - dk0[i]; cdk[i] = (float)(gk[i] - k0);
        wdv[i] = want_dv[i] - dv0[i]; cdv[i] = (float)(gv[i] - v0);
    }
    // bf16 gradients round the sum (initial + change): relative to the change that is large, so judge loosely
    double th_kv = grads_f32 ? 2e-5 : 2e-2;
    report(name + " dK", wdk, cdk.data(), kvn, th_kv, grads_f32 ? dkf.guards_ok() : dkb.guards_ok());
    report(name + " dV", wdv, cdv.data(), kvn, th_kv, grads_f32 ? dvf.guards_ok() : dvb.guards_ok());
}

int main(int argc, char** argv) {
    return run_groups(argc, argv, {
    {"gemm", [] {
        test_gemm<bf16>("gemm_nt_128_bf16", gemm_nt_128_bf16, 128, 128, 256, false, 130, 136, 72, false, false);
        test_gemm<bf16>("gemm_nt_128_bf16", gemm_nt_128_bf16, 128, 128, 256, false, 129, 65, 200, true, true);
        test_gemm<bf16>("gemm_nt_64_bf16", gemm_nt_64_bf16, 64, 64, 128, false, 70, 33, 96, true, false);
        test_gemm<bf16>("gemm_nt_64_bf16", gemm_nt_64_bf16, 64, 64, 128, false, 9, 66, 40, false, true);
        test_gemm<float>("gemm_nt_128_f32", gemm_nt_128_f32, 128, 128, 256, false, 131, 40, 64, false, false);
        test_gemm<float>("gemm_nt_64_f32", gemm_nt_64_f32, 64, 64, 128, false, 17, 70, 48, true, true);
        test_gemm<bf16>("gemm_nt_128_unaligned_bf16", gemm_nt_128_unaligned_bf16, 128, 128, 256, false, 133, 41, 37, true, false);
        test_gemm<bf16>("gemm_nt_64_unaligned_bf16", gemm_nt_64_unaligned_bf16, 64, 64, 128, false, 20, 21, 13, false, true);
        test_gemm<float>("gemm_nt_64_unaligned_f32", gemm_nt_64_unaligned_f32, 64, 64, 128, false, 65, 7, 45, true, false);
        test_gemm<float>("gemm_nt_128_unaligned_f32", gemm_nt_128_unaligned_f32, 128, 128, 256, false, 12, 130, 9, false, false);
        test_gemm<bf16>("gemm_nn_128_bf16", gemm_nn_128_bf16, 128, 128, 256, true, 130, 136, 72, false, false);
        test_gemm<bf16>("gemm_nn_128_bf16", gemm_nn_128_bf16, 128, 128, 256, true, 129, 72, 200, true, true);
        test_gemm<bf16>("gemm_nn_64_bf16", gemm_nn_64_bf16, 64, 64, 128, true, 70, 40, 96, true, false);
        test_gemm<float>("gemm_nn_128_f32", gemm_nn_128_f32, 128, 128, 256, true, 131, 40, 64, true, false);
        test_gemm<float>("gemm_nn_64_f32", gemm_nn_64_f32, 64, 64, 128, true, 33, 136, 88, false, true);
        test_gemm<bf16>("gemm_nn_128_unaligned_bf16", gemm_nn_128_unaligned_bf16, 128, 128, 256, true, 133, 41, 37, true, false);
        test_gemm<bf16>("gemm_nn_64_unaligned_bf16", gemm_nn_64_unaligned_bf16, 64, 64, 128, true, 20, 21, 13, false, true);
        test_gemm<float>("gemm_nn_64_unaligned_f32", gemm_nn_64_unaligned_f32, 64, 64, 128, true, 65, 7, 45, true, false);
        test_gemm<float>("gemm_nn_128_unaligned_f32", gemm_nn_128_unaligned_f32, 128, 128, 256, true, 12, 130, 9, false, false);
    }},
    {"wgrad", [] {
        test_weight_gradient<bf16>("weight_gradient_128_bf16", weight_gradient_128_bf16, 128, 256, 72, 136, 128, false);
        test_weight_gradient<bf16>("weight_gradient_128_bf16", weight_gradient_128_bf16, 128, 256, 200, 64, 136, true);
        test_weight_gradient<bf16>("weight_gradient_64_bf16", weight_gradient_64_bf16, 64, 128, 40, 72, 80, true);
        test_weight_gradient<float>("weight_gradient_128_f32", weight_gradient_128_f32, 128, 256, 33, 136, 40, false);
        test_weight_gradient<float>("weight_gradient_64_f32", weight_gradient_64_f32, 64, 128, 96, 24, 136, true);
        test_weight_gradient<bf16>("weight_gradient_128_unaligned_bf16", weight_gradient_128_unaligned_bf16, 128, 256, 37, 133, 41, true);
        test_weight_gradient<bf16>("weight_gradient_64_unaligned_bf16", weight_gradient_64_unaligned_bf16, 64, 128, 13, 21, 70, false);
        test_weight_gradient<float>("weight_gradient_64_unaligned_f32", weight_gradient_64_unaligned_f32, 64, 128, 45, 65, 7, true);
        test_weight_gradient<float>("weight_gradient_128_unaligned_f32", weight_gradient_128_unaligned_f32, 128, 256, 9, 12, 131, false);
    }},
    {"gemv", [] {
        test_gemv<bf16, bf16>("gemv_nt_bf16_bf16", gemv_nt_bf16_bf16, 1, 9, 4096, false, false, true);
        test_gemv<bf16, bf16>("gemv_nt_bf16_bf16", gemv_nt_bf16_bf16, 8, 7, 2056, true, true, true);
        test_gemv<bf16, bf16>("gemv_nt_bf16_bf16", gemv_nt_bf16_bf16, 3, 5, 77, true, false, false);
        test_gemv<float, bf16>("gemv_nt_f32_bf16", gemv_nt_f32_bf16, 5, 6, 520, false, true, true);
        test_gemv<bf16, float>("gemv_nt_bf16_f32", gemv_nt_bf16_f32, 2, 4, 4104, true, false, true);
        test_gemv<float, float>("gemv_nt_f32_f32", gemv_nt_f32_f32, 8, 3, 33, true, true, false);
    }},
    {"simt", [] {
        test_simt<float>("gemm_simt_f32", gemm_simt_f32, false, 70, 65, 33, true, false);
        test_simt<bf16>("gemm_simt_bf16", gemm_simt_bf16, false, 9, 130, 20, false, true);
        test_simt<float>("gemm_simt_f32", gemm_simt_f32, true, 66, 17, 70, true, true);
        test_simt<bf16>("gemm_simt_bf16", gemm_simt_bf16, true, 5, 80, 19, true, false);
    }},
    {"fwd", [] {
        test_forward("fwd128 rows=[40,17] H=4 Hkv=2 dh=128 tags", make_attn({{0, 40}, {0, 17}}, 4, 2, 128, true, false), 128, true, false);
        test_forward("fwd64 rows=[7] H=2 dh=16", make_attn({{0, 7}}, 2, 2, 16, false, false), 64, true, false);
        test_forward("fwd64 rows=[3,11,1] H=4 Hkv=1 dh=64 tags", make_attn({{0, 3}, {0, 11}, {0, 1}}, 4, 1, 64, true, false), 64, true, false);
        test_forward("fwd128 rows=[ctx70+30, ctx5+50] dh=96 interleaved tags", make_attn({{70, 30}, {5, 50}}, 2, 2, 96, true, true), 128, true, false);
        test_forward("fwd64 unaligned dh=12 rows=[20,9] tags", make_attn({{0, 20}, {3, 9}}, 2, 1, 12, true, false), 64, false, false);
        test_forward("fwd128 unaligned dh=100 rows=[ctx60+8]", make_attn({{60, 8}}, 2, 2, 100, false, false), 128, false, false);
        test_forward("fwd128 rows=[130] H=1 dh=128 (3 q tiles, 3 key tiles)", make_attn({{0, 130}}, 1, 1, 128, true, false), 128, true, false);
    }},
    {"dec", [] {
        test_forward("dec128 rows=4 ctx=600 dh=128", make_attn({{599, 1}, {400, 1}, {3, 1}, {520, 1}}, 2, 2, 128, false, false), 128, true, true);
        test_forward("dec64 rows=3 ctx=300 dh=64 tags GQA", make_attn({{299, 1}, {255, 1}, {256, 2}}, 4, 2, 64, true, false), 64, true, true);
        test_forward("dec64 unaligned dh=20 ctx=270", make_attn({{269, 1}, {10, 1}}, 2, 1, 20, true, false), 64, false, true);
        test_forward("dec128 unaligned dh=72 ctx=90", make_attn({{89, 1}}, 1, 1, 72, false, false, 300), 128, false, true);
    }},
    {"bwd", [] {
        test_backward("bwd128 rows=[40,17] H=4 Hkv=2 dh=128 tags f32", make_attn({{0, 40}, {0, 17}}, 4, 2, 128, true, false), 128, true, true);
        test_backward("bwd64 rows=[7] dh=16 bf16", make_attn({{0, 7}}, 2, 2, 16, false, false), 64, true, false);
        test_backward("bwd64 rows=[ctx20+50, 30] dh=64 interleaved tags f32", make_attn({{20, 50}, {0, 30}}, 2, 1, 64, true, true), 64, true, true);
        test_backward("bwd64 unaligned dh=12 rows=[20,9] tags f32", make_attn({{0, 20}, {3, 9}}, 2, 1, 12, true, false), 64, false, true);
        test_backward("bwd128 unaligned dh=72 rows=[ctx70+10] bf16", make_attn({{70, 10}}, 2, 2, 72, true, false), 128, false, false);
    }},
    });
}
