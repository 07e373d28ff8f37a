// Checks of vqgan.cu's GroupNorm and upsampling (group gnorm).
#pragma once

constexpr int kGroupNormThreads = 256, kGroupNormChunk = 8192;  // CudaBackend.GroupNormThreads, GroupNormChunk

// Channel ch's inputs centre on offset * (1 + ch % 3): chunks of a group then differ in mean, where a wrong merge of
// their statistics shows.
static void check_groupnorm(int n, int c, int groups, int h, int w, bool w_bf16, bool swish, int shift, bool in_place, float offset) {
    const long long hw = (long long)h * w, count = c / groups * hw;
    const size_t total = (size_t)n * c * hw;
    auto xs = operand<float>(total, 2);
    for (size_t i = 0; i < total; ++i) xs[i] += offset * (1 + (int)(i / hw % c) % 3);
    Buf<float> x = upload<float>(xs, shift), y_apart(total, NaN, shift);
    Buf<float>& y = in_place ? x : y_apart;
    FlagBuf gamma(c, 1, 0.5f, w_bf16), beta(c, 0, 0.5f, w_bf16);
    const float eps = 1e-6f;
    std::vector<double> want(total);
    for (int s = 0; s < n; ++s)
        for (int g = 0; g < groups; ++g) {
            const size_t at = ((size_t)s * groups + g) * count;
            double sum = 0, squares = 0;
            for (long long i = 0; i < count; ++i) sum += xs[at + i];
            double mean = sum / count;
            for (long long i = 0; i < count; ++i) squares += (xs[at + i] - mean) * (xs[at + i] - mean);
            double inv = 1 / std::sqrt(squares / count + eps);
            for (long long i = 0; i < count; ++i) {
                int channel = g * (c / groups) + (int)(i / hw);
                double v = (xs[at + i] - mean) * inv * gamma.v[channel] + beta.v[channel];
                want[at + i] = swish ? v / (1 + std::exp(-v)) : v;
            }
        }
    const int chunks = (int)((count + kGroupNormChunk - 1) / kGroupNormChunk);
    Buf<double> partial((size_t)n * groups * chunks * 3);
    const dim3 grid{(unsigned)chunks, (unsigned)(n * groups), 1};
    const int stats_vec = count % 4 == 0 && shift == 0, apply_vec = hw % 4 == 0 && shift == 0;
    emu::launch(grid, block_of(kGroupNormThreads), 0, nullptr, [&] { groupnorm_stats_f32(partial.p(), x.p(), count, chunks, stats_vec); });
    emu::launch(grid, block_of(kGroupNormThreads), 0, nullptr, [&] {
        groupnorm_apply_f32(y.p(), x.p(), partial.p(), gamma.p(), beta.p(), gamma.flag(), groups, c / groups, hw, chunks, eps, swish, apply_vec);
    });
    check_close(dims("groupnorm N=%d C=%d G=%d %dx%d (%d chunks) w=%s%s%s%s offset %g", n, c, groups, h, w, chunks, gamma.name(),
                     swish ? " swish" : "", apply_vec ? " vec" : stats_vec ? " vec stats" : " scalar", in_place ? " in-place" : "", offset),
                want, y, 2e-5);
    check_guards(dims("groupnorm N=%d C=%d G=%d partial statistics", n, c, groups), partial);
}

static void check_upsample(int planes, int h, int w, int y_shift, unsigned cap) {
    const long long count = (long long)planes * h * w;
    auto xs = operand<float>(count);
    Buf<float> x = upload<float>(xs), y(count * 4, NaN, y_shift);
    std::vector<float> want(count * 4);
    for (long long row = 0; row < (long long)planes * h; ++row)
        for (int j = 0; j < w; ++j)
            for (int dy = 0; dy < 2; ++dy)
                for (int dx = 0; dx < 2; ++dx) want[(2 * row + dy) * 2 * w + 2 * j + dx] = xs[row * w + j];
    const int pairs = (uintptr_t)y.p() % 8 == 0;
    emu::launch(blocks_for(count, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr,
                [&] { upsample2x_f32(y.p(), x.p(), count, w, pairs); });
    report_exact(dims("upsample2x_f32 planes=%d %dx%d grid cap %u%s", planes, h, w, cap, pairs ? " pairs" : " single"), want, y);
}

static void groupnorm_checks() {
    check_groupnorm(2, 6, 3, 5, 7, true, true, 0, false, 0);
    check_groupnorm(1, 4, 2, 64, 70, false, false, 0, true, 100);  // 8960 elements a group: two chunks
    check_groupnorm(1, 2, 1, 70, 61, true, true, 0, false, -30);   // 8540, odd: two chunks, scalar apply, vec stats
    check_groupnorm(2, 8, 4, 4, 4, false, true, 1, true, 5);
    check_upsample(6, 5, 7, 0, kStrideCap);
    check_upsample(3, 4, 9, 1, 1);
}
