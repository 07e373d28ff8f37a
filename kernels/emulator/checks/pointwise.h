// Checks of pointwise.cu (SwiGLU, its backward, add) and elementwise.cu (group point).
#pragma once

// cap: the most blocks StrideGrid gives (16 per multiprocessor); a small one makes the grid-stride loops go round.
template <typename T>
static void check_swiglu(long long n, int shift, bool out_is_gate, unsigned cap) {
    auto gs = operand<T>(n, 4), us = operand<T>(n, 2);
    Buf<T> gate = upload<T>(gs, shift), up = upload<T>(us, shift), out_apart(n, NaN, shift);
    Buf<T>& out = out_is_gate ? gate : out_apart;
    std::vector<double> want(n);
    for (long long i = 0; i < n; ++i) want[i] = gs[i] / (1 + std::exp(-(double)gs[i])) * us[i];
    auto kernel = pick<T>(swiglu_fwd_bf16, swiglu_fwd_f32);
    const int vec = shift == 0;
    emu::launch(blocks_for(n / 8 + 1, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr,
                [&] { kernel(out.p(), gate.p(), up.p(), n, vec); });
    check_close(dims("swiglu_fwd_%s n=%lld grid cap %u%s%s", type_name<T>(), n, cap, vec ? " vec" : " scalar", out_is_gate ? " out=gate" : ""),
                want, out, tol_of<T>());
}

template <typename T>
static void check_swiglu_backward(long long n, int shift, unsigned cap) {
    auto gs = operand<T>(n, 6), us = operand<T>(n, 2), ds = operand<T>(n);
    Buf<T> gate = upload<T>(gs, shift), up = upload<T>(us, shift), dout = upload<T>(ds, shift);
    Buf<T> dgate(n, NaN, shift), dup(n, NaN, shift);
    std::vector<double> want_gate(n), want_up(n);
    for (long long i = 0; i < n; ++i) {
        double g = gs[i], s = 1 / (1 + std::exp(-g));
        want_gate[i] = ds[i] * us[i] * s * (1 + g * (1 - s));
        want_up[i] = ds[i] * g * s;
    }
    auto kernel = pick<T>(swiglu_bwd_bf16, swiglu_bwd_f32);
    const int vec = shift == 0;
    emu::launch(blocks_for(n / 8 + 1, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr,
                [&] { kernel(dgate.p(), dup.p(), gate.p(), up.p(), dout.p(), n, vec); });
    std::string name = dims("swiglu_bwd_%s n=%lld grid cap %u%s", type_name<T>(), n, cap, vec ? " vec" : " scalar");
    check_close(name + " dgate", want_gate, dgate, tol_of<T>());
    check_close(name + " dup", want_up, dup, tol_of<T>());
}

// y = a + b in fp32, rounded once to T: exact.
template <typename T>
static void check_add(long long n, int shift, int alias, unsigned cap) {
    auto as = operand<T>(n, 3), bs = operand<T>(n);
    Buf<T> a = upload<T>(as, shift), b = upload<T>(bs, shift), y_apart(n, NaN, shift);
    Buf<T>& y = alias == 1 ? a : alias == 2 ? b : y_apart;
    std::vector<T> want(n);
    for (long long i = 0; i < n; ++i) want[i] = ref_round<T>(as[i] + bs[i]);
    auto kernel = pick<T>(add_bf16, add_f32);
    const int vec = shift == 0;
    emu::launch(blocks_for(n / 8 + 1, kPointwiseThreads, cap), block_of(kPointwiseThreads), 0, nullptr,
                [&] { kernel(y.p(), a.p(), b.p(), n, vec); });
    report_exact(dims("add_%s n=%lld grid cap %u%s%s", type_name<T>(), n, cap, vec ? " vec" : " scalar",
                      alias == 1 ? " y=a" : alias == 2 ? " y=b" : ""), want, y);
}

// Values that exercise a bf16 rounding: ties both ways, overflow to infinity, infinities, NaN, denormals, signed zeros.
static std::vector<float> rounding_cases(size_t n) {
    std::vector<float> v = operand<float>(n, 100);
    const unsigned special[] = {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0x7f7f8000u, 0x7f7f7fffu, 0x7f800000u, 0xff800000u,
                                0x7fc00000u, 0xffc12345u, 0x00000001u, 0x80008000u, 0x00018000u, 0x80000000u, 0x00000000u};
    for (size_t i = 0; i < sizeof special / sizeof special[0] && i < n; ++i) v[i * 3 % n] = __uint_as_float(special[i]);
    return v;
}

static void check_elementwise(long long n, unsigned grid) {
    auto as = operand<float>(n, 3), bs = operand<float>(n);
    Buf<float> a = upload<float>(as), b = upload<float>(bs), y(n);
    std::vector<float> want(n);
    for (long long i = 0; i < n; ++i) want[i] = as[i] + bs[i];
    emu::launch(dim3{grid, 1, 1}, block_of(256), 0, nullptr, [&] { residual_add_f32(y.p(), a.p(), b.p(), n); });
    report_exact(dims("residual_add_f32 n=%lld grid %u", n, grid), want, y);

    auto ab = operand<bf16>(n, 3), bb = operand<bf16>(n);
    Buf<bf16> a16 = upload<bf16>(ab), b16 = upload<bf16>(bb), y16(n);
    std::vector<bf16> want16(n);
    for (long long i = 0; i < n; ++i) want16[i] = ref_bf16(ab[i] + bb[i]);
    emu::launch(blocks_for(n, 256), block_of(256), 0, nullptr, [&] { residual_add_bf16(y16.p(), a16.p(), b16.p(), n); });
    report_exact(dims("residual_add_bf16 n=%lld", n), want16, y16);

    auto cs = rounding_cases(n);
    Buf<float> wide = upload<float>(cs);
    Buf<bf16> narrow(n);
    for (long long i = 0; i < n; ++i) want16[i] = ref_bf16(cs[i]);
    emu::launch(dim3{grid, 1, 1}, block_of(256), 0, nullptr, [&] { convert_f32_to_bf16(narrow.p(), wide.p(), n); });
    report_exact(dims("convert_f32_to_bf16 n=%lld grid %u (ties, overflow, inf, NaN, denormals)", n, grid), want16, narrow);
    Buf<float> back(n);
    for (long long i = 0; i < n; ++i) want[i] = __uint_as_float((unsigned)want16[i].bits << 16);
    emu::launch(blocks_for(n, 256), block_of(256), 0, nullptr, [&] { convert_bf16_to_f32(back.p(), narrow.p(), n); });
    report_exact(dims("convert_bf16_to_f32 n=%lld", n), want, back);

    Buf<float> filled(n);
    std::fill(want.begin(), want.end(), -3.25f);
    emu::launch(blocks_for(n, 256), block_of(256), 0, nullptr, [&] { fill_f32(filled.p(), -3.25f, n); });
    report_exact(dims("fill_f32 n=%lld", n), want, filled);
    Buf<bf16> filled16(n);
    std::fill(want16.begin(), want16.end(), ref_bf16(7.5f));
    emu::launch(dim3{3, 1, 1}, block_of(256), 0, nullptr, [&] { fill_bf16(filled16.p(), ref_bf16(7.5f), n); });
    report_exact(dims("fill_bf16 n=%lld grid 3", n), want16, filled16);
}

static void pointwise_checks() {
    check_swiglu<bf16>(1005, 0, false, kStrideCap);
    check_swiglu<bf16>(4099, 0, true, 1);
    check_swiglu<float>(13, 0, false, kStrideCap);
    check_swiglu<float>(2051, 1, true, 2);
    check_swiglu_backward<bf16>(1003, 0, 1);
    check_swiglu_backward<float>(777, 1, kStrideCap);
    check_swiglu_backward<float>(4101, 0, 2);
    check_add<bf16>(1001, 0, 1, kStrideCap);
    check_add<bf16>(517, 1, 2, 1);
    check_add<float>(4103, 0, 0, 1);
    check_add<float>(7, 0, 2, kStrideCap);
    check_elementwise(3001, 2);
    check_elementwise(100, 37);
}
