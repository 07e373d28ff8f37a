// The CUDA driver API entry points the engine binds (src/Engine.Managed/Interop/CuNative.cs), implemented on the CPU:
// one device (device_properties.h), its primary context, guarded device memory (device_memory.h), modules read from
// NVRTC's CUBIN and mapped by kernel name onto the kernels compiled for the emulator (kernel_table.h), launches
// checked against the device's limits and run on the emulator (launcher.h). Work runs when it is queued, so every
// stream is in order and an event records the host time at which the work before it finished.
//
// Errors come back as the CUresult a GPU gives: a launch over a limit fails at once; a fault inside a kernel (or a
// write outside an allocation, found by the canaries after it) makes the context's error sticky, as on a GPU, so the
// calls after it fail with it. Every fault is also written to stderr and kept for coarStandInLastReport, naming the
// kernel, its launch number, grid, block and shared memory, and the allocation involved.
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda_types.h"
#include "device_memory.h"
#include "device_properties.h"
#include "kernel_table.h"
#include "launcher.h"
#include "module_image.h"

#define API extern "C" __attribute__((visibility("default")))

struct StandInModule;

struct StandInFunction {
    StandInModule* module;
    const standin::KernelEntry* entry;
    standin::ImageKernel image;
    int max_threads;          // what the registers and __launch_bounds__ allow
    int max_dynamic_shared;   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    int carveout = -1;
};

struct StandInModule {
    standin::ModuleImage image;
    std::vector<std::unique_ptr<StandInFunction>> functions;
};

struct StandInStream {
    unsigned flags;
};

struct StandInEvent {
    bool timing;
    bool recorded = false;
    std::chrono::steady_clock::time_point at;
};

struct StandInContext {
    int references = 0;
    CUresult sticky = CUDA_SUCCESS;
    standin::DeviceMemory memory;
    std::set<StandInModule*> modules;
    std::set<StandInStream*> streams;
    std::set<StandInEvent*> events;
};

namespace {

struct Driver {
    std::mutex mutex;
    bool initialized = false;
    StandInContext* primary = nullptr;  // the device's primary context while retained
    uint64_t launches = 0;
    std::string last_report;
    CUresult last_code = CUDA_SUCCESS;
    std::unordered_map<std::string, const standin::KernelEntry*> kernels;
    int kernel_count = 0;
};

Driver& driver() {
    static Driver* d = new Driver;  // never destroyed: the process may call in while exiting
    return *d;
}

thread_local CUcontext t_current = nullptr;

std::string format(const char* text, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* text, ...) {
    char buffer[1024];
    va_list args;
    va_start(args, text);
    vsnprintf(buffer, sizeof buffer, text, args);
    va_end(args);
    return buffer;
}

// Keeps a report for coarStandInLastReport; a fault (loud) also goes to stderr, as a sanitizer would print it.
CUresult report(CUresult code, const std::string& text, bool loud) {
    driver().last_report = text;
    driver().last_code = code;
    if (loud) fprintf(stderr, "CoAR CUDA stand-in: %s\n", text.c_str());
    return code;
}

// The calling thread's context, or the error to return: not initialised, none current, or a sticky error.
CUresult current(StandInContext*& context) {
    Driver& d = driver();
    if (!d.initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (!t_current || t_current != d.primary) return CUDA_ERROR_INVALID_CONTEXT;
    context = t_current;
    return context->sticky;
}

bool valid_stream(StandInContext* context, CUstream stream) {
    return stream == nullptr || stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD || context->streams.count(stream);
}

std::string hex(uintptr_t p) { return format("0x%" PRIxPTR, p); }

// A device range for a copy or memset: inside one live allocation, or the error a GPU driver gives.
CUresult check_range(StandInContext* context, const char* call, const char* what, CUdeviceptr address, size_t bytes) {
    if (context->memory.find((uintptr_t)address, bytes)) return CUDA_SUCCESS;
    return report(CUDA_ERROR_INVALID_VALUE,
                  format("%s: the %s range of %zu bytes at %s is not inside one allocation: %s", call, what, bytes,
                         hex(address).c_str(), context->memory.describe_address((uintptr_t)address).c_str()),
                  true);
}

void destroy(StandInContext* context) {
    for (auto* m : context->modules) delete m;
    for (auto* s : context->streams) delete s;
    for (auto* e : context->events) delete e;
    delete context;
}

std::string describe_launch(const StandInFunction& f, uint64_t number, const standin::LaunchShape& s) {
    return format("kernel %s (%s) launch #%llu: grid (%u,%u,%u), block (%u,%u,%u), %zu bytes of dynamic shared memory",
                  f.entry->name, f.entry->file, (unsigned long long)number, s.grid.x, s.grid.y, s.grid.z, s.block.x, s.block.y,
                  s.block.z, s.dynamic_bytes);
}

// The threads per block a function may have: 1024, its __launch_bounds__, and what its registers leave.
int max_threads_for(const standin::ImageKernel& k) {
    int limit = standin::kMaxThreadsPerBlock;
    if (k.max_threads > 0) limit = std::min(limit, k.max_threads);
    if (k.registers > 0) {
        int per_warp = (k.registers * 32 + standin::kRegisterAllocationUnit - 1) / standin::kRegisterAllocationUnit *
                       standin::kRegisterAllocationUnit;
        limit = std::min(limit, standin::kRegistersPerBlock / per_warp * 32);
    }
    return limit;
}

// Maps an image's kernels onto the stand-in's: every kernel must be one it was built with, with the same parameters.
CUresult load_module(StandInContext* context, const void* image, CUmodule* module, std::string& log) {
    auto m = std::make_unique<StandInModule>();
    std::string error;
    if (!standin::read_module_image(image, m->image, error)) {
        log = "CoAR CUDA stand-in: cannot read the image: " + error;
        return report(CUDA_ERROR_INVALID_IMAGE, log, false);
    }
    int arch = m->image.arch;
    if (!m->image.ptx && (arch / 10 != 9 || arch % 10 != 0)) {
        log = format("CoAR CUDA stand-in: a %s does not run on compute capability 9.0", m->image.format.c_str());
        return report(CUDA_ERROR_NO_BINARY_FOR_GPU, log, false);
    }
    if (m->image.ptx && arch > 90) {
        log = format("CoAR CUDA stand-in: %s is newer than compute capability 9.0", m->image.format.c_str());
        return report(CUDA_ERROR_INVALID_PTX, log, false);
    }
    Driver& d = driver();
    for (auto& k : m->image.kernels) {
        auto it = d.kernels.find(k.name);
        if (it == d.kernels.end()) {
            log = format("CoAR CUDA stand-in: the %s has kernel %s, which the stand-in was not built with (it has the %d "
                         "kernels of kernels/*.cu): rebuild it with kernels/emulator/standin/build.sh",
                         m->image.format.c_str(), k.name.c_str(), d.kernel_count);
            return report(CUDA_ERROR_INVALID_IMAGE, log, false);
        }
        const standin::KernelEntry& entry = *it->second;
        bool same = k.params_known && (int)k.params.size() == entry.param_count;
        for (int i = 0; same && i < entry.param_count; ++i) same = k.params[i].size == entry.params[i].size;
        if (!same) {
            std::string image_sizes, built_sizes;
            for (auto& p : k.params) image_sizes += (image_sizes.empty() ? "" : ", ") + std::to_string(p.size);
            for (int i = 0; i < entry.param_count; ++i) built_sizes += (i ? ", " : "") + std::to_string(entry.params[i].size);
            log = format("CoAR CUDA stand-in: kernel %s takes parameters of (%s) bytes in the %s but (%s) in the stand-in's "
                         "build of %s: the stand-in is stale; rebuild it with kernels/emulator/standin/build.sh",
                         k.name.c_str(), image_sizes.c_str(), m->image.format.c_str(), built_sizes.c_str(), entry.file);
            return report(CUDA_ERROR_INVALID_IMAGE, log, false);
        }
        auto f = std::make_unique<StandInFunction>();
        f->module = m.get();
        f->entry = &entry;
        f->image = k;
        f->max_threads = max_threads_for(k);
        f->max_dynamic_shared = standin::kDefaultSharedPerBlock - k.static_shared;
        m->functions.push_back(std::move(f));
    }
    log = format("CoAR CUDA stand-in: %s with %zu kernels, each run on the CPU emulator", m->image.format.c_str(),
                 m->functions.size());
    *module = m.get();
    context->modules.insert(m.release());
    return CUDA_SUCCESS;
}

void write_log(char* buffer, size_t size, const std::string& text) {
    if (!buffer || size == 0) return;
    size_t n = std::min(size - 1, text.size());
    std::memcpy(buffer, text.data(), n);
    buffer[n] = 0;
}

// Runs a launch the limits allow: pointer arguments checked, the kernel run, canaries checked after it.
void execute(StandInContext* context, StandInFunction& f, void** arguments, const standin::LaunchShape& shape) {
    Driver& d = driver();
    uint64_t number = ++d.launches;
    const standin::KernelEntry& entry = *f.entry;
    for (int i = 0; i < entry.param_count; ++i) {
        if (entry.params[i].kind != standin::ParamKind::Pointer) continue;
        uintptr_t value;
        std::memcpy(&value, arguments[i], sizeof value);
        if (value == 0 || context->memory.find(value, 0)) continue;
        context->sticky = report(CUDA_ERROR_ILLEGAL_ADDRESS,
                                 format("%s: argument %d `%s` (%s) is %s, which no kernel may use: %s",
                                        describe_launch(f, number, shape).c_str(), i, entry.params[i].name, entry.params[i].type,
                                        hex(value).c_str(), context->memory.describe_address(value).c_str()),
                                 true);
        return;
    }
    standin::KernelFault fault;
    if (!standin::run_kernel(entry, arguments, shape, fault)) {
        CUresult code = fault.fault == emu::Fault::MisalignedAddress ? CUDA_ERROR_MISALIGNED_ADDRESS
                        : fault.fault == emu::Fault::Deadlock        ? CUDA_ERROR_LAUNCH_TIMEOUT
                        : fault.fault == emu::Fault::DivergentCollective ? CUDA_ERROR_LAUNCH_FAILED
                                                                     : CUDA_ERROR_ILLEGAL_ADDRESS;
        std::string where = fault.has_address ? ": " + context->memory.describe_address(fault.address) : "";
        context->sticky = report(code, describe_launch(f, number, shape) + " faulted: " + fault.message + where, true);
        return;
    }
    std::string broken;
    if (!context->memory.check_canaries(broken))
        context->sticky = report(CUDA_ERROR_ILLEGAL_ADDRESS, describe_launch(f, number, shape) + " " + broken, true);
}

}  // namespace

// ---- initialisation, errors, device ------------------------------------------------------------------------------

API CUresult cuInit(unsigned flags) {
    Driver& d = driver();
    std::lock_guard<std::mutex> lock(d.mutex);
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (d.initialized) return CUDA_SUCCESS;
    for (int i = 0; i < standin::kernel_file_count; ++i) {
        const standin::KernelFile& file = *standin::kernel_files[i];
        for (int k = 0; k < file.count; ++k) d.kernels[file.kernels[k].name] = &file.kernels[k];
        d.kernel_count += file.count;
    }
    standin::start_workers();
    d.initialized = true;
    return CUDA_SUCCESS;
}

API CUresult cuDriverGetVersion(int* version) {
    if (!version) return CUDA_ERROR_INVALID_VALUE;
    *version = standin::kDriverVersion;
    return CUDA_SUCCESS;
}

namespace {
struct ErrorText {
    CUresult code;
    const char* name;
    const char* text;
};
constexpr ErrorText kErrors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {CUDA_ERROR_LAUNCH_TIMEOUT, "CUDA_ERROR_LAUNCH_TIMEOUT", "the launch timed out and was terminated"},
    {CUDA_ERROR_ILLEGAL_INSTRUCTION, "CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered"},
    {CUDA_ERROR_MISALIGNED_ADDRESS, "CUDA_ERROR_MISALIGNED_ADDRESS", "misaligned address"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};
const ErrorText* error_text(CUresult code) {
    for (auto& e : kErrors)
        if (e.code == code) return &e;
    return nullptr;
}
}  // namespace

API CUresult cuGetErrorName(CUresult error, const char** name) {
    if (!name) return CUDA_ERROR_INVALID_VALUE;
    const ErrorText* e = error_text(error);
    *name = e ? e->name : nullptr;
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

API CUresult cuGetErrorString(CUresult error, const char** text) {
    if (!text) return CUDA_ERROR_INVALID_VALUE;
    const ErrorText* e = error_text(error);
    *text = e ? e->text : nullptr;
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

API CUresult cuDeviceGetCount(int* count) {
    if (!driver().initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (!count) return CUDA_ERROR_INVALID_VALUE;
    *count = 1;
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGet(CUdevice* device, int ordinal) {
    if (!driver().initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (!device) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGetName(char* name, int length, CUdevice device) {
    if (!driver().initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!name || length <= 0) return CUDA_ERROR_INVALID_VALUE;
    write_log(name, (size_t)length, standin::kDeviceName);
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGetAttribute(int* value, int attribute, CUdevice device) {
    if (!driver().initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!value) return CUDA_ERROR_INVALID_VALUE;
    return standin::device_attribute(attribute, *value) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice device) {
    if (!driver().initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    *bytes = standin::kTotalMemory;
    return CUDA_SUCCESS;
}

// ---- contexts -----------------------------------------------------------------------------------------------------

API CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device) {
    Driver& d = driver();
    std::lock_guard<std::mutex> lock(d.mutex);
    if (!d.initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!context) return CUDA_ERROR_INVALID_VALUE;
    if (!d.primary) d.primary = new StandInContext;
    d.primary->references++;
    *context = d.primary;
    return CUDA_SUCCESS;
}

API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
    Driver& d = driver();
    std::lock_guard<std::mutex> lock(d.mutex);
    if (!d.initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!d.primary) return CUDA_ERROR_INVALID_CONTEXT;
    // The last release destroys the context and everything in it, its sticky error included.
    if (--d.primary->references == 0) {
        destroy(d.primary);
        d.primary = nullptr;
    }
    return CUDA_SUCCESS;
}

API CUresult cuCtxSetCurrent(CUcontext context) {
    Driver& d = driver();
    std::lock_guard<std::mutex> lock(d.mutex);
    if (!d.initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (context && context != d.primary) return CUDA_ERROR_INVALID_CONTEXT;
    t_current = context;
    return CUDA_SUCCESS;
}

API CUresult cuCtxGetCurrent(CUcontext* context) {
    if (!driver().initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (!context) return CUDA_ERROR_INVALID_VALUE;
    *context = t_current;
    return CUDA_SUCCESS;
}

API CUresult cuCtxSynchronize() {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    return current(context);
}

// ---- streams and events -------------------------------------------------------------------------------------------

API CUresult cuStreamCreate(CUstream* stream, unsigned flags) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!stream || flags > 1) return CUDA_ERROR_INVALID_VALUE;
    *stream = new StandInStream{flags};
    context->streams.insert(*stream);
    return CUDA_SUCCESS;
}

API CUresult cuStreamDestroy_v2(CUstream stream) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!context->streams.erase(stream)) return CUDA_ERROR_INVALID_HANDLE;
    delete stream;
    return CUDA_SUCCESS;
}

API CUresult cuStreamSynchronize(CUstream stream) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    return valid_stream(context, stream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

API CUresult cuStreamQuery(CUstream stream) { return cuStreamSynchronize(stream); }

API CUresult cuEventCreate(CUevent* event, unsigned flags) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!event || (flags & ~0xfu)) return CUDA_ERROR_INVALID_VALUE;
    *event = new StandInEvent{(flags & CU_EVENT_DISABLE_TIMING) == 0, false, {}};
    context->events.insert(*event);
    return CUDA_SUCCESS;
}

API CUresult cuEventRecord(CUevent event, CUstream stream) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!context->events.count(event) || !valid_stream(context, stream)) return CUDA_ERROR_INVALID_HANDLE;
    // The work queued before it has run (work runs when queued): the event completes now, in host time.
    event->recorded = true;
    event->at = std::chrono::steady_clock::now();
    return CUDA_SUCCESS;
}

API CUresult cuEventSynchronize(CUevent event) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    return context->events.count(event) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

API CUresult cuEventElapsedTime(float* milliseconds, CUevent start, CUevent end) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!milliseconds) return CUDA_ERROR_INVALID_VALUE;
    if (!context->events.count(start) || !context->events.count(end)) return CUDA_ERROR_INVALID_HANDLE;
    if (!start->timing || !end->timing || !start->recorded || !end->recorded) return CUDA_ERROR_INVALID_HANDLE;
    // Host time of the emulation, not GPU time.
    *milliseconds = std::chrono::duration<float, std::milli>(end->at - start->at).count();
    return CUDA_SUCCESS;
}

API CUresult cuEventDestroy_v2(CUevent event) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!context->events.erase(event)) return CUDA_ERROR_INVALID_HANDLE;
    delete event;
    return CUDA_SUCCESS;
}

// ---- memory -------------------------------------------------------------------------------------------------------

namespace {
CUresult allocate(size_t bytes, bool host, uintptr_t& address, const char* call) {
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    size_t in_use = context->memory.device_bytes_in_use();
    if (!host && bytes > standin::kTotalMemory - standin::kContextReserve - in_use)
        return report(CUDA_ERROR_OUT_OF_MEMORY,
                      format("%s: %zu bytes asked for; %zu of the emulated H100's %zu are free", call, bytes,
                             standin::kTotalMemory - standin::kContextReserve - in_use, standin::kTotalMemory),
                      false);
    if (!context->memory.allocate(bytes, host, driver().launches, address))
        return report(CUDA_ERROR_OUT_OF_MEMORY, format("%s: the host could not map %zu bytes for the stand-in", call, bytes), false);
    return CUDA_SUCCESS;
}

CUresult release(uintptr_t address, bool host, const char* call) {
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    std::string detail;
    switch (context->memory.free(address, host, driver().launches, detail)) {
    case standin::DeviceMemory::FreeResult::Freed: return CUDA_SUCCESS;
    case standin::DeviceMemory::FreeResult::DoubleFree:
        return report(CUDA_ERROR_INVALID_VALUE, format("%s(%s): double free of %s", call, hex(address).c_str(), detail.c_str()), true);
    case standin::DeviceMemory::FreeResult::WrongKind:
        return report(CUDA_ERROR_INVALID_VALUE, format("%s(%s): %s was not allocated by %s", call, hex(address).c_str(), detail.c_str(),
                                                       host ? "cuMemHostAlloc" : "cuMemAlloc"), true);
    default:
        return report(CUDA_ERROR_INVALID_VALUE, format("%s(%s): not the start of an allocation: %s", call, hex(address).c_str(),
                                                       detail.c_str()), true);
    }
}
}  // namespace

API CUresult cuMemAlloc_v2(CUdeviceptr* pointer, size_t bytes) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    if (!pointer) return CUDA_ERROR_INVALID_VALUE;
    uintptr_t address = 0;
    CUresult r = allocate(bytes, false, address, "cuMemAlloc_v2");
    if (r == CUDA_SUCCESS) *pointer = address;
    return r;
}

API CUresult cuMemFree_v2(CUdeviceptr pointer) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    return release((uintptr_t)pointer, false, "cuMemFree_v2");
}

API CUresult cuMemHostAlloc(void** pointer, size_t bytes, unsigned flags) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    if (!pointer || (flags & ~0xfu)) return CUDA_ERROR_INVALID_VALUE;
    uintptr_t address = 0;
    CUresult r = allocate(bytes, true, address, "cuMemHostAlloc");
    if (r == CUDA_SUCCESS) *pointer = (void*)address;
    return r;
}

API CUresult cuMemFreeHost(void* pointer) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    return release((uintptr_t)pointer, true, "cuMemFreeHost");
}

API CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!free || !total) return CUDA_ERROR_INVALID_VALUE;
    *total = standin::kTotalMemory;
    *free = standin::kTotalMemory - standin::kContextReserve - context->memory.device_bytes_in_use();
    return CUDA_SUCCESS;
}

namespace {
enum class Side { Host, Device };
CUresult copy(void* destination, Side to, const void* source, Side from, size_t bytes, CUstream stream, bool async, const char* call) {
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (async && !valid_stream(context, stream)) return CUDA_ERROR_INVALID_HANDLE;
    if (bytes == 0) return CUDA_SUCCESS;
    if (to == Side::Device)
        if (CUresult r = check_range(context, call, "destination", (CUdeviceptr)destination, bytes)) return r;
    if (from == Side::Device)
        if (CUresult r = check_range(context, call, "source", (CUdeviceptr)source, bytes)) return r;
    if ((to == Side::Host && !destination) || (from == Side::Host && !source)) return CUDA_ERROR_INVALID_VALUE;
    std::memmove(destination, source, bytes);
    return CUDA_SUCCESS;
}

template <typename T>
CUresult memset_device(CUdeviceptr destination, T value, size_t count, CUstream stream, bool async, const char* call) {
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (async && !valid_stream(context, stream)) return CUDA_ERROR_INVALID_HANDLE;
    if (count == 0) return CUDA_SUCCESS;
    if (destination % sizeof(T))
        return report(CUDA_ERROR_INVALID_VALUE, format("%s: %s is not aligned to %zu bytes", call, hex(destination).c_str(), sizeof(T)), true);
    if (CUresult r = check_range(context, call, "destination", destination, count * sizeof(T))) return r;
    T* p = (T*)destination;
    for (size_t i = 0; i < count; ++i) p[i] = value;
    return CUDA_SUCCESS;
}
}  // namespace

#define LOCKED std::lock_guard<std::mutex> lock(driver().mutex)
API CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void* h, size_t n) { LOCKED; return copy((void*)d, Side::Device, h, Side::Host, n, nullptr, false, "cuMemcpyHtoD_v2"); }
API CUresult cuMemcpyDtoH_v2(void* h, CUdeviceptr d, size_t n) { LOCKED; return copy(h, Side::Host, (const void*)d, Side::Device, n, nullptr, false, "cuMemcpyDtoH_v2"); }
API CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) { LOCKED; return copy((void*)d, Side::Device, (const void*)s, Side::Device, n, nullptr, false, "cuMemcpyDtoD_v2"); }
API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* h, size_t n, CUstream s) { LOCKED; return copy((void*)d, Side::Device, h, Side::Host, n, s, true, "cuMemcpyHtoDAsync_v2"); }
API CUresult cuMemcpyDtoHAsync_v2(void* h, CUdeviceptr d, size_t n, CUstream s) { LOCKED; return copy(h, Side::Host, (const void*)d, Side::Device, n, s, true, "cuMemcpyDtoHAsync_v2"); }
API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr src, size_t n, CUstream s) { LOCKED; return copy((void*)d, Side::Device, (const void*)src, Side::Device, n, s, true, "cuMemcpyDtoDAsync_v2"); }
API CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { LOCKED; return memset_device(d, v, n, nullptr, false, "cuMemsetD8_v2"); }
API CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) { LOCKED; return memset_device(d, v, n, nullptr, false, "cuMemsetD16_v2"); }
API CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) { LOCKED; return memset_device(d, v, n, nullptr, false, "cuMemsetD32_v2"); }
API CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) { LOCKED; return memset_device(d, v, n, s, true, "cuMemsetD8Async"); }
API CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s) { LOCKED; return memset_device(d, v, n, s, true, "cuMemsetD16Async"); }
API CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, CUstream s) { LOCKED; return memset_device(d, v, n, s, true, "cuMemsetD32Async"); }

// ---- modules and functions ----------------------------------------------------------------------------------------

API CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned count, int* options, void** values) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!module || !image || (count && (!options || !values))) return CUDA_ERROR_INVALID_VALUE;
    std::string log;
    CUresult r = load_module(context, image, module, log);
    char* error_log = nullptr;
    char* info_log = nullptr;
    size_t error_size = 0, info_size = 0;
    for (unsigned i = 0; i < count; ++i) {
        switch (options[i]) {
        case CU_JIT_ERROR_LOG_BUFFER: error_log = (char*)values[i]; break;
        case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES: error_size = (size_t)(uintptr_t)values[i]; break;
        case CU_JIT_INFO_LOG_BUFFER: info_log = (char*)values[i]; break;
        case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES: info_size = (size_t)(uintptr_t)values[i]; break;
        default: break;  // other JIT options steer code generation, which the stand-in does not do
        }
    }
    write_log(r == CUDA_SUCCESS ? info_log : error_log, r == CUDA_SUCCESS ? info_size : error_size, log);
    return r;
}

API CUresult cuModuleLoadData(CUmodule* module, const void* image) { return cuModuleLoadDataEx(module, image, 0, nullptr, nullptr); }

API CUresult cuModuleUnload(CUmodule module) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!context->modules.erase(module)) return CUDA_ERROR_INVALID_HANDLE;
    delete module;
    return CUDA_SUCCESS;
}

API CUresult cuModuleGetFunction(CUfunction* function, CUmodule module, const char* name) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!function || !name) return CUDA_ERROR_INVALID_VALUE;
    if (!context->modules.count(module)) return CUDA_ERROR_INVALID_HANDLE;
    for (auto& f : module->functions)
        if (std::strcmp(f->entry->name, name) == 0) {
            *function = f.get();
            return CUDA_SUCCESS;
        }
    return CUDA_ERROR_NOT_FOUND;
}

namespace {
bool valid_function(StandInContext* context, CUfunction f) {
    if (!f) return false;
    for (auto* m : context->modules)
        for (auto& g : m->functions)
            if (g.get() == f) return true;
    return false;
}
}  // namespace

API CUresult cuFuncGetAttribute(int* value, int attribute, CUfunction f) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!value) return CUDA_ERROR_INVALID_VALUE;
    if (!valid_function(context, f)) return CUDA_ERROR_INVALID_HANDLE;
    switch (attribute) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = f->max_threads; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *value = f->image.static_shared; break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *value = f->image.local_bytes; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *value = std::max(f->image.registers, 0); break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *value = f->module->image.arch; break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *value = f->max_dynamic_shared; break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *value = f->carveout; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

API CUresult cuFuncSetAttribute(CUfunction f, int attribute, int value) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!valid_function(context, f)) return CUDA_ERROR_INVALID_HANDLE;
    if (attribute == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
        // Static and dynamic shared memory together within the opt-in maximum.
        if (value < 0 || value > standin::kSharedPerBlockOptin - f->image.static_shared)
            return report(CUDA_ERROR_INVALID_VALUE,
                          format("cuFuncSetAttribute(%s, MAX_DYNAMIC_SHARED_SIZE_BYTES, %d): with %d bytes of static shared "
                                 "memory the most is %d", f->entry->name, value, f->image.static_shared,
                                 standin::kSharedPerBlockOptin - f->image.static_shared),
                          false);
        f->max_dynamic_shared = value;
        return CUDA_SUCCESS;
    }
    if (attribute == CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT) {
        if (value < -1 || value > 100) return CUDA_ERROR_INVALID_VALUE;
        f->carveout = value;
        return CUDA_SUCCESS;
    }
    return CUDA_ERROR_INVALID_VALUE;
}

API CUresult cuLaunchKernel(CUfunction f, unsigned gridX, unsigned gridY, unsigned gridZ, unsigned blockX, unsigned blockY,
                            unsigned blockZ, unsigned sharedBytes, CUstream stream, void** kernelParams, void** extra) {
    std::lock_guard<std::mutex> lock(driver().mutex);
    StandInContext* context;
    if (CUresult r = current(context)) return r;
    if (!valid_function(context, f) || !valid_stream(context, stream)) return CUDA_ERROR_INVALID_HANDLE;
    const char* name = f->entry->name;
    if (extra)
        return report(CUDA_ERROR_NOT_SUPPORTED, format("cuLaunchKernel(%s): the stand-in takes kernelParams, not extra", name), false);
    if (!kernelParams && f->entry->param_count > 0) return CUDA_ERROR_INVALID_VALUE;
    standin::LaunchShape shape{{gridX, gridY, gridZ}, {blockX, blockY, blockZ}, sharedBytes};
    unsigned long long threads = (unsigned long long)blockX * blockY * blockZ;
    if (!blockX || !blockY || !blockZ || blockX > (unsigned)standin::kMaxBlockDim[0] || blockY > (unsigned)standin::kMaxBlockDim[1] ||
        blockZ > (unsigned)standin::kMaxBlockDim[2] || threads > (unsigned long long)standin::kMaxThreadsPerBlock)
        return report(CUDA_ERROR_INVALID_VALUE,
                      format("cuLaunchKernel(%s): block (%u,%u,%u) is over the device's limits (1024 x 1024 x 64, 1024 threads)",
                             name, blockX, blockY, blockZ),
                      false);
    if (!gridX || !gridY || !gridZ || gridX > standin::kMaxGridDim[0] || gridY > standin::kMaxGridDim[1] || gridZ > standin::kMaxGridDim[2])
        return report(CUDA_ERROR_INVALID_VALUE,
                      format("cuLaunchKernel(%s): grid (%u,%u,%u) is over the device's limits (2^31-1 x 65535 x 65535)", name,
                             gridX, gridY, gridZ),
                      false);
    if (threads > (unsigned long long)f->max_threads)
        return report(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES,
                      format("cuLaunchKernel(%s): %llu threads per block, but its %d registers per thread%s allow %d", name, threads,
                             f->image.registers, f->image.max_threads ? " and __launch_bounds__" : "", f->max_threads),
                      false);
    if ((int)sharedBytes > f->max_dynamic_shared)
        return report(CUDA_ERROR_INVALID_VALUE,
                      format("cuLaunchKernel(%s): %u bytes of dynamic shared memory, over the %d the function allows "
                             "(48 KiB less its %d bytes of static shared memory unless cuFuncSetAttribute raised it)",
                             name, sharedBytes, f->max_dynamic_shared, f->image.static_shared),
                      false);
    execute(context, *f, kernelParams, shape);
    // A fault is the context's sticky error from here on, reported by the calls that follow, as on a GPU.
    return CUDA_SUCCESS;
}

// ---- the stand-in's own ---------------------------------------------------------------------------------------------

// What this library is: tells the engine it runs on a stand-in (and not a GPU), and says so in its reports.
API const char* coarStandInDescribe() {
    static std::string text;
    Driver& d = driver();
    std::lock_guard<std::mutex> lock(d.mutex);
    if (text.empty() || !d.initialized)
        text = format("CoAR CUDA stand-in: the CUDA driver API on the CPU emulator (kernels/emulator), one emulated H100, "
                      "%d kernels of kernels/*.cu, %d worker threads; not a GPU",
                      d.kernel_count, standin::worker_count());
    return text.c_str();
}

// The last error's report (which kernel, which launch, which allocation) and its CUresult; the report's length, or 0
// when there was none.
API int coarStandInLastReport(char* buffer, int size, CUresult* code) {
    Driver& d = driver();
    std::lock_guard<std::mutex> lock(d.mutex);
    if (buffer && size > 0) write_log(buffer, (size_t)size, d.last_report);
    if (code) *code = d.last_code;
    return (int)d.last_report.size();
}
