// Checks of conv2d.cu (group conv).
#pragma once

constexpr int kConvTile = 64, kConvThreads = 256;  // CudaBackend.ConvTile, ConvThreads

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
