// Checks of rows.cu: embedding, gathers, scatters, scatter-add, zeroed rows, the KV store and gather (group rows).
#pragma once

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

// Values that exercise a bf16 rounding: ties both ways, overflow to infinity, infinities, NaN, denormals, signed zeros.
static std::vector<float> rounding_cases(size_t n) {
    std::vector<float> v = operand<float>(n, 100);
    const unsigned special[] = {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0x7f7f8000u, 0x7f7f7fffu, 0x7f800000u, 0xff800000u,
                                0x7fc00000u, 0xffc12345u, 0x00000001u, 0x80008000u, 0x00018000u, 0x80000000u, 0x00000000u};
    for (size_t i = 0; i < sizeof special / sizeof special[0] && i < n; ++i) v[i * 3 % n] = __uint_as_float(special[i]);
    return v;
}

// common.cuh's conversions through the converting gathers (every row in order): f32 to bf16 rounds to nearest even
// bit for bit (ties, overflow, inf, NaN, denormals), bf16 to f32 widens exactly.
static void check_conversions(int rows, int d, int shift) {
    const size_t n = (size_t)rows * d;
    auto cs = rounding_cases(n);
    std::vector<int> order(rows);
    for (int i = 0; i < rows; ++i) order[i] = i;
    Buf<int> indices = int_buf(order);
    Buf<float> wide = upload<float>(cs, shift);
    Buf<bf16> narrow(n, Unwritten, shift);
    std::vector<bf16> want16(n);
    for (size_t i = 0; i < n; ++i) want16[i] = ref_bf16(cs[i]);
    const int vec = d % 8 == 0 && shift == 0;
    emu::launch(dim3{(unsigned)rows, 1, 1}, block_of(kMoveThreads), 0, nullptr,
                [&] { gather_rows_f32_bf16(narrow.p(), wide.p(), indices.p(), rows, d, vec); });
    report_exact(dims("gather_rows_f32_bf16 rows=%d d=%d%s (ties, overflow, inf, NaN, denormals)", rows, d, vec ? " vec" : " scalar"),
                 want16, narrow);
    Buf<float> back(n, Unwritten, shift);
    std::vector<float> want(n);
    for (size_t i = 0; i < n; ++i) want[i] = __uint_as_float((unsigned)want16[i].bits << 16);
    emu::launch(dim3{(unsigned)rows, 1, 1}, block_of(kMoveThreads), 0, nullptr,
                [&] { gather_rows_bf16_f32(back.p(), narrow.p(), indices.p(), rows, d, vec); });
    report_exact(dims("gather_rows_bf16_f32 rows=%d d=%d%s (widening)", rows, d, vec ? " vec" : " scalar"), want, back);
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
    check_conversions(25, 120, 0);
    check_conversions(31, 97, 0);
    check_conversions(9, 40, 1);
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
