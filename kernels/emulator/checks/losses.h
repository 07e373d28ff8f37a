// Checks of losses.cu: softmax cross-entropy and KL divergence (group loss).
#pragma once

constexpr int kLossThreads = 512;  // CudaBackend.LossThreads (LOSS_THREADS)

// A target outside [-1, v): the caller's contract on a GPU, NaN for the row.
static int invalid_target(int v) { return rng() % 2 ? v : -2; }

// Row r with target -1 is ignored (loss 0, lse 0, gradient 0 exactly), with a target outside [-1, v) NaN; the others
// are compared with float64 (logsumexp - picked; (softmax - onehot) * scale + softmax * 2 lse z_scale). with_lse: the
// optional logsumexp output is given (and a z-loss scale), else null.
static void check_softmax_xent(int n, int v, int shift, bool in_place, bool with_lse) {
    auto ls = logit_rows(n, v);
    std::vector<int> targets(n);
    for (int r = 0; r < n; ++r) {
        do targets[r] = rng() % v; while (std::isinf(ls[(size_t)r * v + targets[r]]));
    }
    if (n >= 3) { targets[1] = -1; targets[2] = invalid_target(v); }
    Buf<float> logits = upload<float>(ls, shift), d_apart((size_t)n * v, Unwritten, shift), losses(n, Unwritten), lse(n, Unwritten);
    Buf<float>& d = in_place ? logits : d_apart;
    Buf<int> bt = int_buf(targets);
    const float scale = 0.37f, z_scale = with_lse ? 0.013f : 0.0f;
    std::vector<double> want_loss(n), want_lse(n), want_d((size_t)n * v);
    for (int r = 0; r < n; ++r) {
        const float* l = &ls[(size_t)r * v];
        double* g = &want_d[(size_t)r * v];
        if (targets[r] < 0 || targets[r] >= v) {
            want_loss[r] = want_lse[r] = targets[r] == -1 ? 0 : NaN;
            for (int c = 0; c < v; ++c) g[c] = want_loss[r];
            continue;
        }
        double m = -INFINITY, sum = 0;
        for (int c = 0; c < v; ++c) m = std::max(m, (double)l[c]);
        for (int c = 0; c < v; ++c) sum += std::exp(l[c] - m);
        want_lse[r] = m + std::log(sum);
        want_loss[r] = want_lse[r] - l[targets[r]];
        for (int c = 0; c < v; ++c) {
            const double p = std::exp(l[c] - m) / sum;
            g[c] = (p - (c == targets[r])) * scale + p * 2 * want_lse[r] * z_scale;
        }
    }
    const int vec = v % 4 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)n, 1, 1}, block_of(kLossThreads), 0, nullptr,
                [&] { softmax_xent_f32(losses.p(), with_lse ? lse.p() : nullptr, d.p(), logits.p(), bt.p(), v, scale, z_scale, vec); });
    std::string name = dims("softmax_xent_f32 n=%d V=%d%s%s%s", n, v, vec ? " vec" : " scalar", in_place ? " in-place" : "",
                            with_lse ? " z-loss" : "");
    check_close(name + " loss", want_loss, losses, 1e-6);
    if (with_lse) check_close(name + " lse", want_lse, lse, 1e-6);
    check_close(name + " dlogits", want_d, d, 1e-5);
    if (n >= 3) {  // the ignored row exactly 0, not merely small
        std::vector<float> zeros(v, 0.0f);
        Buf<float> row(v, 0);
        for (int c = 0; c < v; ++c) row[c] = d[(size_t)v + c];
        report_exact(name + " ignored row", zeros, row);
    }
}

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
    check_softmax_xent(4, 1000, 0, false, false);
    check_softmax_xent(3, 1001, 0, true, true);
    check_softmax_xent(3, 4100, 0, true, false);
    check_softmax_xent(3, 70, 1, false, true);
    check_softmax_xent(1, 65536, 0, true, true);
    check_kl(3, 1000, 0, true);
    check_kl(3, 4099, 0, false);
    check_kl(2, 40, 1, false);
}
