// Runs a kernel of the table on the emulator: the blocks of its grid are shared out among worker threads (each with
// the emulator's state, fiber stacks and dynamic shared memory of its own), one fiber per CUDA thread, in order, with
// cp.async landing at wait_group. A fault inside the kernel (a memory access fault, a misaligned vector access, a
// shared-memory access out of range, a deadlock at a barrier) ends the launch and is returned, not fatal.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "cuda_emulation.h"
#include "kernel_table.h"

namespace standin {

struct LaunchShape {
    dim3 grid, block;
    size_t dynamic_bytes = 0;
};

struct KernelFault {
    emu::Fault fault = emu::Fault::IllegalAddress;
    std::string message;
    bool has_address = false;  // a memory access fault at address
    uintptr_t address = 0;
};

// Prepares the workers (COAR_STANDIN_THREADS of them, default one per available CPU) and the fault handlers.
void start_workers();
// Runs the kernel with the arguments of a cuLaunchKernel; false with the fault when it faulted.
bool run_kernel(const KernelEntry& kernel, void* const* arguments, const LaunchShape& shape, KernelFault& fault);
// How many workers run blocks.
int worker_count();

}  // namespace standin
