// Runs the transformer's row and element kernels on the CPU emulator against float64 references written from the op
// semantics (IBackend, the CPU backend): norms, RoPE, row moves, pointwise ops, losses and sampling, launched with the
// grids, blocks, shared memory and argument order of CudaBackend's launchers, on odd shapes, vector and scalar paths,
// both activation types, NaN-poisoned outputs with guards after them.
// Usage: layer_checks [group [deferred|eager [schedule [seed]]]]; built and run by run.sh.
#include "src/norms.cu"
#include "src/rope.cu"
#include "src/rows.cu"
#include "src/pointwise.cu"
#include "src/losses.cu"
#include "src/sampling.cu"

alignas(16) float trig[1024];  // rope.cu's dynamic shared memory (dh floats)

#include "check_support.h"
#include "checks/norms.h"
#include "checks/rope.h"
#include "checks/pointwise.h"
#include "checks/rows.h"
#include "checks/losses.h"
#include "checks/sampling.h"

int main(int argc, char** argv) {
    return run_groups(argc, argv, {
        {"norm", norm_checks},
        {"rope", rope_checks},
        {"point", pointwise_checks},
        {"rows", row_checks},
        {"loss", loss_checks},
        {"sample", sample_checks},
    });
}
