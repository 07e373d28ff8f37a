// Checks of vqgan.cu's codebook kernels: norms, nearest entry, lookup (group code).
#pragma once

constexpr int kArgminPositions = 32, kArgminEntries = 64, kArgminThreads = 256;  // CudaBackend.Argmin*

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
