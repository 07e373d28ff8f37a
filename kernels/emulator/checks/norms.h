// Checks of norms.cu: RMSNorm and the per-head LayerNorm, forward and backward (group norm).
#pragma once

constexpr int kRowThreads = 256;       // CudaBackend.RowThreads
constexpr int kHeadRowsPerBlock = 16;  // CudaBackend.HeadRowsPerBlock: 16 lanes per head row

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
