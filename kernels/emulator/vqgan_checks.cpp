// Runs the image tokenizer's kernels on the CPU emulator against float64 references written from the op semantics
// (IBackend, the CPU backend): convolution, GroupNorm (+swish), upsampling, the codebook's norms, nearest-entry search
// and lookup, and spatial attention, launched with the grids, blocks and argument order of CudaBackend.Vqgan, on odd
// shapes, vector and scalar paths, bf16 and f32 weights, NaN-poisoned outputs with guards after them.
// Usage: vqgan_checks [group [deferred|eager [schedule [seed]]]]; built and run by run.sh.
#include "src/conv2d.cu"
#include "src/vqgan.cu"
#include "src/vqgan_attention.cu"

#include "check_support.h"
#include "checks/conv2d.h"
#include "checks/groupnorm.h"
#include "checks/codebook.h"
#include "checks/vqgan_attention.h"

int main(int argc, char** argv) {
    return run_groups(argc, argv, {
        {"conv", conv_checks},
        {"gnorm", groupnorm_checks},
        {"code", codebook_checks},
        {"sattn", attention_checks},
    });
}
