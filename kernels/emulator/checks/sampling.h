// Checks of sampling.cu: guidance, constraints and the top-k draw against TopKSampler (group sample).
#pragma once
#include <array>

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
