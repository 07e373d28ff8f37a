// Runs the image tokenizer's kernels on the CPU emulator against float64 references written from the op semantics
// (IBackend, the CPU backend): convolution, GroupNorm (+swish), upsampling, the codebook's norms, nearest-entry search
// and lookup, and spatial attention, launched with the grids, blocks and argument order of CudaBackend.Vqgan, on odd
// shapes, vector and scalar paths, bf16 and f32 weights, NaN-poisoned outputs with guards after them.
// Usage: vqgan_checks [group [deferred|eager [schedule [seed]]]]; built and run by run.sh.
#include "src/conv2d.cu"
#include "src/vqgan.cu"
#include "src/vqgan_attention.cu"

#include "check_support.h"

constexpr int kConvTile = 64, kConvThreads = 256;          // CudaBackend.ConvTile, ConvThreads
constexpr int kGroupNormThreads = 256, kGroupNormChunk = 8192;
constexpr int kPointwiseThreads = 256;
constexpr int kArgminPositions = 32, kArgminEntries = 64, kArgminThreads = 256;
constexpr int kAttentionQueries = 16, kAttentionChannels = 512, kAttentionThreads = 256;
constexpr unsigned kStrideCap = 132 * 16;  // StrideGrid on an H100: 16 blocks per multiprocessor
constexpr int kMultiprocessors = 132;

// ---- conv2d.cu --------------------------------------------------------------------------------------------------
// bias_type 0 none, 1 f32, 2 bf16 (the launcher's encoding).
static void check_conv(int n, int cin, int h, int w, int cout, int kh, int kw, int stride, int pad_top, int pad_left, int pad_bottom,
                       int pad_right, bool w_bf16, int bias_type) {
    const int ho = (h + pad_top + pad_bottom - kh) / stride + 1, wo = (w + pad_left + pad_right - kw) / stride + 1;
    auto xs = operand<float>((size_t)n * cin * h * w);
    Buf<float> x = upload<float>(xs), y((size_t)n * cout * ho * wo);
    FlagBuf weight((size_t)cout * cin * kh * kw, 0, 0.5f, w_bf16), bias(bias_type ? cout : 0, 0, 1, bias_type == 2);
    std::vector<double> want(y.n);
    for (int s = 0; s < n; ++s)
        for (int co = 0; co < cout; ++co)
            for (int oy = 0; oy < ho; ++oy)
                for (int ox = 0; ox < wo; ++ox) {
                    double sum = bias_type ? bias.v[co] : 0;
                    for (int ci = 0; ci < cin; ++ci)
                        for (int ky = 0; ky < kh; ++ky)
                            for (int kx = 0; kx < kw; ++kx) {
                                int iy = oy * stride - pad_top + ky, ix = ox * stride - pad_left + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                sum += (double)weight.v[((co * cin + ci) * kh + ky) * kw + kx] * xs[(((size_t)s * cin + ci) * h + iy) * w + ix];
                            }
                    want[(((size_t)s * cout + co) * ho + oy) * wo + ox] = sum;
                }
    auto kernel = kh == 1 && kw == 1 ? conv2d_k1_f32 : kh == 3 && kw == 3 ? conv2d_k3_f32 : conv2d_any_f32;
    const char* name = kh == 1 && kw == 1 ? "conv2d_k1_f32" : kh == 3 && kw == 3 ? "conv2d_k3_f32" : "conv2d_any_f32";
    dim3 grid{(unsigned)(((long long)ho * wo + kConvTile - 1) / kConvTile), (unsigned)((cout + kConvTile - 1) / kConvTile), (unsigned)n};
    emu::launch(grid, block_of(kConvThreads), 0, nullptr, [&] {
        kernel(y.p(), x.p(), weight.p(), weight.flag(), bias_type ? bias.p() : nullptr, bias_type, cin, h, w, cout, kh, kw, ho, wo, stride,
               pad_top, pad_left);
    });
    check_close(dims("%s N=%d Cin=%d %dx%d Cout=%d k=%dx%d stride %d pads %d,%d,%d,%d w=%s bias=%s", name, n, cin, h, w, cout, kh, kw,
                     stride, pad_top, pad_left, pad_bottom, pad_right, weight.name(), bias_type == 0 ? "none" : bias.name()),
                want, y, 1e-5);
}

static void conv_checks() {
    check_conv(2, 5, 9, 7, 70, 3, 3, 1, 1, 1, 1, 1, true, 1);
    check_conv(1, 33, 10, 10, 8, 1, 1, 1, 0, 0, 0, 0, false, 2);
    check_conv(1, 4, 9, 9, 6, 3, 3, 2, 0, 0, 1, 1, false, 0);  // taming's Downsample: pad right and bottom only
    check_conv(2, 3, 6, 11, 5, 4, 2, 1, 2, 0, 1, 1, true, 2);
    check_conv(1, 2, 12, 12, 3, 7, 7, 3, 3, 3, 3, 3, false, 1);
    check_conv(1, 17, 12, 13, 130, 1, 1, 1, 0, 0, 0, 0, true, 0);
}

// ---- vqgan.cu: GroupNorm, upsampling ----------------------------------------------------------------------------
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

// ---- vqgan.cu: codebook -----------------------------------------------------------------------------------------
// The launcher's split of the entry tiles: enough blocks for two per multiprocessor.
static void argmin_splits(int n, int positions, int entries, int& splits, int& tiles_per_split) {
    long long position_tiles = (positions + kArgminPositions - 1) / kArgminPositions;
    int entry_tiles = (entries + kArgminEntries - 1) / kArgminEntries;
    long long wanted = 2LL * kMultiprocessors;
    splits = (int)std::clamp((wanted + position_tiles * n - 1) / (position_tiles * n), 1LL, (long long)entry_tiles);
    tiles_per_split = (entry_tiles + splits - 1) / splits;
    splits = (entry_tiles + tiles_per_split - 1) / tiles_per_split;
}

// Codes by nearest entry with exact duplicates in the codebook (inside an entry group, across groups, across tiles
// and splits) and latents equal to a duplicated entry, where the smallest index must win; a latent with a NaN gives 0.
// Away from exact duplicates, entries within fp32 rounding of the best are accepted (the distance is formed in fp32).
static void check_codebook(int n, int channels, int positions, int entries, bool w_bf16, unsigned cap) {
    FlagBuf codebook((size_t)entries * channels, 0, 1, w_bf16);
    auto copy_entry = [&](int from, int to) {
        for (int c = 0; c < channels; ++c) {
            codebook.v[(size_t)to * channels + c] = codebook.v[(size_t)from * channels + c];
            if (w_bf16) codebook.b.set((size_t)to * channels + c, codebook.v[(size_t)from * channels + c]);
            else codebook.f.set((size_t)to * channels + c, codebook.v[(size_t)from * channels + c]);
        }
    };
    const int pairs[][2] = {{5, 6}, {4, 20}, {10, entries - 50}, {3, entries - 1}};
    for (auto& p : pairs) copy_entry(p[0], p[1]);
    auto zs = operand<float>((size_t)n * channels * positions);
    auto set_latent = [&](int s, int p, int entry) {
        for (int c = 0; c < channels; ++c) zs[((size_t)s * channels + c) * positions + p] = codebook.v[(size_t)entry * channels + c];
    };
    set_latent(0, 7, 6);
    set_latent(0, positions - 1, 20);
    set_latent(n - 1, 0, entries - 50);
    set_latent(n - 1, 33, entries - 1);
    zs[((size_t)0 * channels + channels / 2) * positions + 5] = NaN;
    Buf<float> z = upload<float>(zs);

    // Each entry's smallest identical entry: the only acceptable answer among duplicates.
    std::vector<int> canonical(entries);
    for (int e = 0; e < entries; ++e) {
        canonical[e] = e;
        for (int f = 0; f < e; ++f)
            if (std::equal(&codebook.v[(size_t)f * channels], &codebook.v[(size_t)(f + 1) * channels], &codebook.v[(size_t)e * channels])) {
                canonical[e] = f;
                break;
            }
    }

    Buf<float> norms(entries);
    std::vector<float> want_norms(entries);
    for (int e = 0; e < entries; ++e) {
        float sum = 0;
        for (int c = 0; c < channels; ++c) {
            float v = codebook.v[(size_t)e * channels + c], square = v * v;
            sum = sum + square;
        }
        want_norms[e] = sum;
    }
    emu::launch(blocks_for(entries, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr,
                [&] { codebook_norms(norms.p(), codebook.p(), codebook.flag(), entries, channels); });
    report_exact(dims("codebook_norms E=%d C=%d w=%s grid cap %u", entries, channels, codebook.name(), cap), want_norms, norms);

    int splits, tiles_per_split;
    argmin_splits(n, positions, entries, splits, tiles_per_split);
    const size_t candidates = (size_t)n * splits * positions;
    Buf<float> best_distance(candidates);
    Buf<int> best_index(candidates), codes((size_t)n * positions);
    const dim3 grid{(unsigned)((positions + kArgminPositions - 1) / kArgminPositions), (unsigned)splits, (unsigned)n};
    emu::launch(grid, block_of(kArgminThreads), 0, nullptr, [&] {
        codebook_argmin_partial(best_distance.p(), best_index.p(), z.p(), codebook.p(), codebook.flag(), norms.p(), entries, channels, positions,
                                tiles_per_split, splits);
    });
    emu::launch(blocks_for((long long)n * positions, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr,
                [&] { codebook_argmin_final(codes.p(), best_distance.p(), best_index.p(), (long long)n * positions, positions, splits); });

    size_t wrong = 0, first = 0, ambiguous = 0;
    for (int s = 0; s < n; ++s)
        for (int p = 0; p < positions; ++p) {
            std::vector<double> d(entries);
            double best = INFINITY, scale = 0;
            bool nan = false;
            for (int e = 0; e < entries; ++e) {
                double sum = 0, zz = 0, ee = 0;
                for (int c = 0; c < channels; ++c) {
                    double zv = zs[((size_t)s * channels + c) * positions + p], ev = codebook.v[(size_t)e * channels + c];
                    sum += (zv - ev) * (zv - ev); zz += zv * zv; ee += ev * ev;
                }
                nan |= std::isnan(sum);
                d[e] = sum;
                best = std::min(best, sum);
                scale = std::max(scale, zz + ee);
            }
            const int got = codes[(size_t)s * positions + p];
            bool ok;
            if (nan) ok = got == 0;
            else {
                // fp32 forms (|z|^2 + |e|^2) - 2 z.e: its rounding is a few ulps of |z|^2 + |e|^2.
                const double slack = 1e-6 * scale;
                int near = 0;
                for (int e = 0; e < entries; ++e) near += d[e] <= best + slack && canonical[e] == e;
                ambiguous += near > 1;
                ok = got >= 0 && got < entries && canonical[got] == got && d[got] <= best + slack;
            }
            if (!ok && !wrong++) first = (size_t)s * positions + p;
        }
    bool ok = wrong == 0 && codes.guards_ok() && best_distance.guards_ok() && best_index.guards_ok();
    if (!ok) failures++;
    printf("%s %-72s %zu wrong%s (%zu within rounding of a tie)%s\n", ok ? "ok  " : "FAIL",
           dims("codebook_argmin N=%d C=%d P=%d E=%d w=%s, %d splits of %d tiles", n, channels, positions, entries, codebook.name(), splits,
                tiles_per_split).c_str(),
           wrong, wrong ? dims(", first at %zu: got %d", first, codes[first]).c_str() : "", ambiguous,
           codes.guards_ok() && best_distance.guards_ok() && best_index.guards_ok() ? "" : " GUARD BROKEN");

    // Lookup: z[n, c, p] = codebook[codes[n, p], c]; a code outside the codebook gives NaN (the host checks first).
    std::vector<int> lookup_codes((size_t)n * positions);
    for (auto& code : lookup_codes) code = rng() % entries;
    lookup_codes[1] = entries;
    Buf<int> bcodes(lookup_codes.size(), 0);
    for (size_t i = 0; i < lookup_codes.size(); ++i) bcodes[i] = lookup_codes[i];
    Buf<float> out((size_t)n * channels * positions, Unwritten);
    std::vector<float> want(out.n);
    for (int s = 0; s < n; ++s)
        for (int c = 0; c < channels; ++c)
            for (int p = 0; p < positions; ++p) {
                int code = lookup_codes[(size_t)s * positions + p];
                want[((size_t)s * channels + c) * positions + p] = code < entries ? codebook.v[(size_t)code * channels + c] : NaN;
            }
    emu::launch(blocks_for((long long)out.n, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr, [&] {
        codebook_lookup_f32(out.p(), bcodes.p(), codebook.p(), codebook.flag(), entries, channels, positions, (long long)out.n);
    });
    report_exact(dims("codebook_lookup_f32 N=%d C=%d P=%d E=%d w=%s grid cap %u", n, channels, positions, entries, codebook.name(), cap), want, out);
}

static void codebook_checks() {
    check_codebook(2, 40, 45, 200, true, kStrideCap);
    check_codebook(1, 8, 70, 130, false, 1);
    check_codebook(2, 40, 330, 1100, true, 2);  // more entry tiles than splits: two tiles a split
}

// ---- vqgan_attention.cu -----------------------------------------------------------------------------------------
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

int main(int argc, char** argv) {
    return run_groups(argc, argv, {
        {"conv", conv_checks},
        {"gnorm", groupnorm_checks},
        {"code", codebook_checks},
        {"sattn", attention_checks},
    });
}
