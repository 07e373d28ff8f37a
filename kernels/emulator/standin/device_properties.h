// The one device the stand-in presents: an H100 SXM5 80GB, with the limits and attributes its driver reports, and a
// name that says it is not one.
#pragma once
#include <cstddef>

namespace standin {

inline constexpr const char* kDeviceName = "CoAR CUDA stand-in (emulated H100 SXM 80GB, runs on the CPU)";
inline constexpr int kDriverVersion = 12040;  // the CUDA 12.4 driver API
inline constexpr size_t kTotalMemory = 85520809984ull;  // 81559 MiB, what an H100 80GB HBM3 reports
inline constexpr size_t kContextReserve = size_t(527) << 20;  // what a fresh context takes of it
inline constexpr int kMultiprocessors = 132;
inline constexpr int kMaxThreadsPerBlock = 1024;
inline constexpr int kMaxBlockDim[3] = {1024, 1024, 64};
inline constexpr long long kMaxGridDim[3] = {2147483647, 65535, 65535};
inline constexpr int kRegistersPerBlock = 65536;
inline constexpr int kRegistersPerThread = 255;
inline constexpr int kRegisterAllocationUnit = 256;  // registers are given to warps in units of 256
inline constexpr int kDefaultSharedPerBlock = 48 * 1024;
inline constexpr int kSharedPerBlockOptin = 232448;  // 227 KiB
inline constexpr int kSharedPerMultiprocessor = 233472;  // 228 KiB
inline constexpr int kReservedSharedPerBlock = 1024;

// cuDeviceGetAttribute: false for an attribute the stand-in does not know (CUDA_ERROR_INVALID_VALUE).
inline bool device_attribute(int attribute, int& value) {
    switch (attribute) {
    case 1: value = kMaxThreadsPerBlock; return true;             // MAX_THREADS_PER_BLOCK
    case 2: value = kMaxBlockDim[0]; return true;                 // MAX_BLOCK_DIM_X
    case 3: value = kMaxBlockDim[1]; return true;
    case 4: value = kMaxBlockDim[2]; return true;
    case 5: value = (int)kMaxGridDim[0]; return true;             // MAX_GRID_DIM_X
    case 6: value = (int)kMaxGridDim[1]; return true;
    case 7: value = (int)kMaxGridDim[2]; return true;
    case 8: value = kDefaultSharedPerBlock; return true;          // MAX_SHARED_MEMORY_PER_BLOCK
    case 9: value = 65536; return true;                           // TOTAL_CONSTANT_MEMORY
    case 10: value = 32; return true;                             // WARP_SIZE
    case 11: value = 2147483647; return true;                     // MAX_PITCH
    case 12: value = kRegistersPerBlock; return true;             // MAX_REGISTERS_PER_BLOCK
    case 13: value = 1980000; return true;                        // CLOCK_RATE (kHz)
    case 14: value = 512; return true;                            // TEXTURE_ALIGNMENT
    case 15: value = 1; return true;                              // GPU_OVERLAP
    case 16: value = kMultiprocessors; return true;               // MULTIPROCESSOR_COUNT
    case 17: value = 0; return true;                              // KERNEL_EXEC_TIMEOUT
    case 18: value = 0; return true;                              // INTEGRATED
    case 19: value = 1; return true;                              // CAN_MAP_HOST_MEMORY
    case 20: value = 0; return true;                              // COMPUTE_MODE (default)
    case 31: value = 1; return true;                              // CONCURRENT_KERNELS
    case 32: value = 1; return true;                              // ECC_ENABLED
    case 33: value = 0; return true;                              // PCI_BUS_ID
    case 34: value = 0; return true;                              // PCI_DEVICE_ID
    case 35: value = 0; return true;                              // TCC_DRIVER
    case 36: value = 2619000; return true;                        // MEMORY_CLOCK_RATE (kHz)
    case 37: value = 5120; return true;                           // GLOBAL_MEMORY_BUS_WIDTH (bits)
    case 38: value = 50 * 1024 * 1024; return true;               // L2_CACHE_SIZE
    case 39: value = 2048; return true;                           // MAX_THREADS_PER_MULTIPROCESSOR
    case 41: value = 1; return true;                              // UNIFIED_ADDRESSING
    case 50: value = 0; return true;                              // PCI_DOMAIN_ID
    case 75: value = 9; return true;                              // COMPUTE_CAPABILITY_MAJOR
    case 76: value = 0; return true;                              // COMPUTE_CAPABILITY_MINOR
    case 78: value = 1; return true;                              // STREAM_PRIORITIES_SUPPORTED
    case 79: value = 1; return true;                              // GLOBAL_L1_CACHE_SUPPORTED
    case 80: value = 1; return true;                              // LOCAL_L1_CACHE_SUPPORTED
    case 81: value = kSharedPerMultiprocessor; return true;       // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
    case 82: value = kRegistersPerBlock; return true;             // MAX_REGISTERS_PER_MULTIPROCESSOR
    case 83: value = 1; return true;                              // MANAGED_MEMORY
    case 84: value = 0; return true;                              // MULTI_GPU_BOARD
    case 95: value = 1; return true;                              // COOPERATIVE_LAUNCH
    case 97: value = kSharedPerBlockOptin; return true;           // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
    case 106: value = 32; return true;                            // MAX_BLOCKS_PER_MULTIPROCESSOR
    case 111: value = kReservedSharedPerBlock; return true;       // RESERVED_SHARED_MEMORY_PER_BLOCK
    default: return false;
    }
}

}  // namespace standin
