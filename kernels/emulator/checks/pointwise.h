// Checks of pointwise.cu: SwiGLU, its backward, add (group point).
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
}
