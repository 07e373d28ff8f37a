// Checks of rope.cu: the rotation and its inverse (group rope). The checks define rope.cu's dynamic shared
// memory, `trig`.
#pragma once

constexpr int kRopeThreads = 128;  // CudaBackend.RopeThreads

// The reference forms the angles as the CPU backend does (inv_freq rounded to fp32, the angle a fp32 product, its
// cosine and sine rounded to fp32) and rotates in float64.
template <typename T>
static void check_rope(int tokens, int heads, int dh, float direction, int shift, bool in_place) {
    const size_t n = (size_t)tokens * heads * dh;
    const float theta = 10000;
    const int half = dh / 2;
    auto xs = operand<T>(n);
    std::vector<int> positions(tokens);
    for (auto& p : positions) p = rng() % 5000;
    positions[0] = 0;
    Buf<T> x = upload<T>(xs, shift), y_apart(n, NaN, shift);
    Buf<T>& y = in_place ? x : y_apart;
    Buf<int> pos(tokens, 0);
    for (int t = 0; t < tokens; ++t) pos[t] = positions[t];
    const int vec = half % 8 == 0 && shift == 0;
    std::vector<double> want(n);
    for (int t = 0; t < tokens; ++t)
        for (int j = 0; j < half; ++j) {
            float inv_freq = (float)(1.0 / std::pow((double)theta, 2.0 * j / dh));
            float angle = (float)positions[t] * inv_freq;
            double c = (float)std::cos((double)angle), s = direction * (float)std::sin((double)angle);
            for (int h = 0; h < heads; ++h) {
                size_t at = ((size_t)t * heads + h) * dh + j;
                want[at] = xs[at] * c - xs[at + half] * s;
                want[at + half] = xs[at + half] * c + xs[at] * s;
            }
        }
    auto kernel = pick<T>(rope_bf16, rope_f32);
    emu::launch(dim3{(unsigned)tokens, 1, 1}, block_of(kRopeThreads), dh * sizeof(float), (unsigned char*)trig,
                [&] { kernel(y.p(), x.p(), pos.p(), heads, dh, theta, direction, vec); }, sizeof trig);
    check_close(dims("rope_%s T=%d H=%d dh=%d dir=%+.0f%s%s", type_name<T>(), tokens, heads, dh, direction, vec ? " vec" : " scalar",
                     in_place ? " in-place" : ""), want, y, tol_of<T>());
}

static void rope_checks() {
    check_rope<bf16>(3, 5, 128, 1, 0, true);
    check_rope<bf16>(2, 3, 64, -1, 0, false);
    check_rope<float>(3, 4, 48, 1, 0, false);
    check_rope<float>(2, 3, 20, -1, 0, true);
    check_rope<bf16>(2, 2, 16, 1, 1, false);
    check_rope<float>(2, 70, 32, 1, 0, false);
}
