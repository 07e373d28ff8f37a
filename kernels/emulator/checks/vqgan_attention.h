// Checks of vqgan_attention.cu (group sattn).
#pragma once

constexpr int kAttentionQueries = 16, kAttentionChannels = 512, kAttentionThreads = 256;  // CudaBackend.Attention*

static void check_spatial_attention(int n, int channels, int positions, int v_shift) {
    const size_t total = (size_t)n * channels * positions;
    auto qs = operand<float>(total, 2), ks = operand<float>(total, 2), vs = operand<float>(total);
    Buf<float> q = upload<float>(qs), k = upload<float>(ks), v = upload<float>(vs, v_shift), y(total);
    const float scale = (float)(1.0 / std::sqrt((double)channels));
    std::vector<double> want(total);
    for (int s = 0; s < n; ++s) {
        const size_t plane = (size_t)s * channels * positions;
        for (int i = 0; i < positions; ++i) {
            std::vector<double> score(positions);
            double m = -INFINITY, sum = 0;
            for (int j = 0; j < positions; ++j) {
                double dot = 0;
                for (int c = 0; c < channels; ++c) dot += (double)qs[plane + (size_t)c * positions + i] * ks[plane + (size_t)c * positions + j];
                score[j] = dot * scale;
                m = std::max(m, score[j]);
            }
            for (auto& x : score) { x = std::exp(x - m); sum += x; }
            for (int c = 0; c < channels; ++c) {
                double out = 0;
                for (int j = 0; j < positions; ++j) out += score[j] * vs[plane + (size_t)c * positions + j];
                want[plane + (size_t)c * positions + i] = out / sum;
            }
        }
    }
    const int vec = positions % 4 == 0 && v_shift == 0;
    const dim3 grid{(unsigned)((positions + kAttentionQueries - 1) / kAttentionQueries), (unsigned)((channels + kAttentionChannels - 1) / kAttentionChannels),
                    (unsigned)n};
    emu::launch(grid, block_of(kAttentionThreads), 0, nullptr, [&] { spatial_attention_f32(y.p(), q.p(), k.p(), v.p(), channels, positions, scale, vec); });
    check_close(dims("spatial_attention_f32 N=%d C=%d P=%d%s", n, channels, positions, vec ? " vec" : " scalar"), want, y, 1e-5);
}

static void attention_checks() {
    check_spatial_attention(2, 40, 70, 0);
    check_spatial_attention(1, 64, 64, 0);
    check_spatial_attention(1, 520, 20, 0);  // two channel splits
    check_spatial_attention(1, 33, 136, 1);  // three key tiles, unaligned v
    check_spatial_attention(2, 3, 5, 0);     // fewer positions than a query tile
}
