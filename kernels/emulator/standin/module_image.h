// What the stand-in reads from a module image (cuModuleLoadData): the kernels in it, and what the compiler recorded
// for each: registers per thread, static shared memory, local (spill) memory, the __launch_bounds__ thread limit and
// the parameter layout. NVRTC's CUBIN (an ELF file) carries all of it in .nv.info sections; PTX carries names,
// parameters and .maxntid.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace standin {

struct ImageParam {
    int offset;
    int size;
};

struct ImageKernel {
    std::string name;
    int registers = -1;       // -1: not recorded (PTX, compiled by the driver at load)
    int static_shared = 0;    // bytes of static __shared__ memory
    int local_bytes = 0;      // per-thread local memory (spills and stack frames)
    int max_threads = 0;      // __launch_bounds__ / .maxntid; 0: none
    bool params_known = false;
    std::vector<ImageParam> params;  // by ordinal
};

struct ModuleImage {
    std::string format;  // "CUBIN for sm_90", "PTX for sm_80"
    int arch = 0;        // 90 for sm_90
    bool ptx = false;
    std::vector<ImageKernel> kernels;
};

// Reads a CUBIN (ELF) or PTX image; false with the reason when it is neither or is malformed.
bool read_module_image(const void* image, ModuleImage& module, std::string& error);

}  // namespace standin
