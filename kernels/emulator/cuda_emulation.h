// CPU emulation of the CUDA features the kernels use, so their index math, fragment layouts, bounds and barriers
// can be run and checked without a GPU. Every CUDA thread of a block is a fiber on one OS thread; a fiber runs until
// it reaches a __syncthreads or a warp collective (shfl, ballot, match, ldmatrix, mma), where it waits for its block
// or warp. ldmatrix.m8n8 (plain and .trans) and mma.m16n8k16 bf16 distribute elements as the PTX ISA's fragment
// tables say, lane by lane. Shared memory, dynamic and static, is refilled with 0xff (NaN for bf16, fp32 and fp64,
// -1 for integers) for every block, so a read of an unwritten byte shows in the results; a write past the end of the
// dynamic shared memory a launch asked for is reported. Vector accesses (float4, uint4, float2, through
// reinterpret_cast) must be aligned as on the GPU. The schedule (State::order) and when cp.async data lands
// (State::async_deferred) are chosen to expose missing barriers and waits; see run.sh.
// A fault (a misaligned vector access, a shared-memory access out of range, a deadlock, a divergent collective) goes
// through emu::fail: the check programs print it and exit; the CUDA driver stand-in (standin/), which defines
// EMU_STANDIN, ends the launch with it instead and runs the blocks of a grid on several OS threads, so the emulator's
// state (and every static __shared__ variable) is per OS thread there.
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <functional>
#include <algorithm>
#include <random>
#include <type_traits>
#include <string>
#include <cstdarg>
#include <sys/mman.h>
#include <unistd.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

// The driver stand-in's kernel scan (standin/make_kernel_table.py) preprocesses the kernels with its own __global__.
#ifndef __global__
#define __global__
#endif
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// The emulator's state: one per process, or one per OS thread where blocks run on several (the driver stand-in).
#if defined(EMU_STANDIN)
#define EMU_TLS thread_local
#else
#define EMU_TLS
#endif
// Static shared memory: one instance per variable (and per OS thread running blocks; blocks run one after another
// on each). make_sources.py follows every declaration with emu::register_shared(variables...), which registers them
// to be poisoned before every block.
#define __shared__ static EMU_TLS

struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline float2 make_float2(float a, float b) { return {a, b}; }
inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline float __int_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned v; std::memcpy(&v, &f, 4); return v; }
inline int __ffs(unsigned v) { return v == 0 ? 0 : __builtin_ctz(v) + 1; }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
// The _rn intrinsics are never fused into an FMA; x86-64 g++ without -mfma never fuses anything.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
// CUDA's min/max overloads for the types the kernels mix (no silent narrowing of a long long to int).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
using std::fmaxf; using std::fminf; using std::fmaf; using std::log2f; using std::isinf;
using std::isnan; using std::exp; using std::log; using std::pow; using std::sqrt;

// ---- the emulator's state ------------------------------------------------------------------------------------------
#if defined(__x86_64__)
// A context switch that saves only what the System V ABI says a call preserves (no signal mask system call, as
// swapcontext makes): emu_switch(&save, next) stores the stack pointer in save and resumes the stack next. Weak and
// hidden, so that every translation unit of the stand-in may carry it.
extern "C" void emu_switch(void** save, void* next);
asm(R"(
    .text
    .weak emu_switch
    .hidden emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
)");
#endif

namespace emu {
// What went wrong in a kernel, for the stand-in's CUresult: the error a GPU reports for the same fault.
enum class Fault { IllegalAddress, MisalignedAddress, Deadlock, DivergentCollective };
struct FaultRecord {
    bool failed = false;
    Fault fault = Fault::IllegalAddress;
    char message[768] = {};
};
// A barrier: the threads (or lanes) it waits for, how many have arrived, its generation; for a warp collective, the
// collective number the first lane to arrive was at (every other lane must be at the same one).
struct SyncGroup { int arrived = 0, live = 0; unsigned gen = 0; uint64_t collective = 0; };
struct Thread {
#if defined(__x86_64__)
    void* sp = nullptr;
#else
    ucontext_t ctx;
#endif
    dim3 tid;
    unsigned linear = 0;  // x fastest, then y, then z: what warps are formed from
    bool done = false;
    // cp.async copies (shared address, global source or null for zero fill) in commit order, the groups committed so
    // far as where each ends, the copies before `landed` done; the copies after the last group are still open. Kept
    // (not freed) from block to block, so a block allocates nothing once the first has run.
    std::vector<std::pair<unsigned, const void*>> copies;
    std::vector<size_t> group_ends;
    size_t landed = 0, landed_groups = 0;
    uint64_t collectives = 0;  // warp collectives this thread has executed
    void reset(dim3 id, unsigned linear_id) {
        tid = id;
        linear = linear_id;
        done = false;
        copies.clear();
        group_ends.clear();
        landed = landed_groups = 0;
        collectives = 0;
    }
};

// Everything the emulator keeps while it runs blocks: the launch, the running block, its threads (fibers) and their
// sync groups, the schedule, the fault that ended a launch. One per process in the checks; one per OS thread running
// blocks in the driver stand-in.
struct State {
    dim3 block, grid, block_idx;
    std::vector<Thread> threads;
    int current = -1;
    Thread* self = nullptr;  // threads[current]: what threadIdx reads
    int remaining = 0;       // threads of the block that have not finished
#if defined(__x86_64__)
    void* sched_sp = nullptr;
#else
    ucontext_t sched;
#endif
    SyncGroup block_group;
    std::vector<SyncGroup> warp_groups;
    unsigned char* dyn = nullptr;  // the dynamic shared memory of the running kernel
    size_t dyn_size = 0;
    bool async_deferred = true;  // cp.async lands at wait_group (true) or at issue (false)
    // 0 in order, 1 reversed, 2 shuffled, 3 shuffled with warps stalled at random, 4 shuffled with one warp at a time
    // held back for a long run while the others go on
    int order = 0;
    std::mt19937 rng{1};
    // Per warp and lane, the values a collective exchanges: two sets, used by turns (a collective's number picks its
    // set), so that a lane may publish for the next collective while another still reads this one's.
    uint64_t warp_slots[2][32][32][6];
    int or_flags[1] = {0};
    std::function<void()> kernel;
    std::vector<std::pair<void*, size_t>> static_shared;  // the static __shared__ variables met so far
    uint64_t events = 0;  // arrivals at sync points and thread exits: a round without one is a deadlock
    FaultRecord fault;
    std::vector<unsigned char*> stacks;      // fiber stacks mapped one by one (the checks)
    unsigned char* stack_region = nullptr;   // or carved from one region (the stand-in)
};

// Fiber stacks: reserved once, committed by the kernel as they are touched.
constexpr size_t kStackBytes = 256 * 1024;

#if !defined(EMU_STANDIN)
inline State g_state;
// The state as the scheduler sees it, and as the code in a fiber (kernels, primitives) does: the same one here.
inline State& scheduler_state() { return g_state; }
inline State& fiber_state() { return g_state; }
#else
// Blocks run on several OS threads. The scheduler finds its state through a thread_local; the code in a fiber, whose
// every threadIdx reads it, finds it from the stack it runs on instead (a thread_local in a library loaded at run
// time costs a call per access): every OS thread's fiber stacks lie in a region aligned to kRegionAlign whose first
// page holds a pointer to its state.
constexpr uintptr_t kRegionAlign = uintptr_t(1) << 30;
constexpr size_t kRegionStacks = 1024;
inline thread_local State* t_state = nullptr;
inline State& scheduler_state() { return *t_state; }
inline State& state_of_stack(uintptr_t sp) { return **(State**)(sp & ~(kRegionAlign - 1)); }
inline State& fiber_state() {
#if defined(__x86_64__)
    uintptr_t sp;
    asm("movq %%rsp, %0" : "=r"(sp));
#else
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
#endif
    return state_of_stack(sp);
}
// Makes this OS thread one that runs blocks: its state, and its fiber stacks (1024, each over an inaccessible page
// that an overflow hits) in an aligned region. Returns the region's bounds; false when it cannot be mapped.
inline bool start_block_thread(uintptr_t& region_begin, uintptr_t& region_end) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t used = page + kRegionStacks * kStackBytes;
    void* reserved = mmap(nullptr, 2 * kRegionAlign, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserved == MAP_FAILED) return false;
    uintptr_t begin = ((uintptr_t)reserved + kRegionAlign - 1) & ~(kRegionAlign - 1);
    if (begin > (uintptr_t)reserved) munmap(reserved, begin - (uintptr_t)reserved);
    munmap((void*)(begin + used), (uintptr_t)reserved + 2 * kRegionAlign - (begin + used));
    if (mprotect((void*)begin, used, PROT_READ | PROT_WRITE) != 0) return false;
    auto* state = new State;
    state->stack_region = (unsigned char*)begin + page;
    for (size_t i = 0; i < kRegionStacks; ++i) mprotect(state->stack_region + i * kStackBytes, page, PROT_NONE);
    *(State**)begin = state;
    t_state = state;
    region_begin = begin;
    region_end = begin + used;
    return true;
}
#endif

inline Thread& self() { return *fiber_state().self; }
inline int lane() { return fiber_state().self->linear % 32; }
inline int warp() { return fiber_state().self->linear / 32; }
#if defined(__x86_64__)
// Gives the OS thread away at a sync point. In order (schedule 0) it goes straight to the next unfinished thread of
// the block, and to the scheduler after the last one (a round's end), so a thread costs one switch per sync point
// rather than two; in the other schedules, to the scheduler, which picks.
inline void yield(State& s) {
    Thread* me = s.self;
    if (s.order == 0) {
        const int n = (int)s.threads.size();
        for (int i = s.current + 1; i < n; ++i) {
            Thread& next = s.threads[i];
            if (next.done) continue;
            s.current = i;
            s.self = &next;
            emu_switch(&me->sp, next.sp);
            return;
        }
    }
    emu_switch(&me->sp, s.sched_sp);
}
inline void to_scheduler(State& s) { emu_switch(&s.self->sp, s.sched_sp); }
inline void resume(State& s, Thread& t) { emu_switch(&s.sched_sp, t.sp); }
#else
inline void yield(State& s) { swapcontext(&s.self->ctx, &s.sched); }
inline void to_scheduler(State& s) { yield(s); }
inline void resume(State& s, Thread& t) { swapcontext(&s.sched, &t.ctx); }
#endif

// ---- faults ----------------------------------------------------------------------------------------------------
// Records a fault found inside a kernel (in a fiber of s). The checks print it and exit; the stand-in goes back to
// the scheduler, which ends the launch, and never resumes the faulting fiber (the next block starts fresh fibers).
[[noreturn]] inline void fail_in(State& s, Fault fault, const char* format, va_list args) {
    vsnprintf(s.fault.message, sizeof s.fault.message, format, args);
    s.fault.fault = fault;
    s.fault.failed = true;
#if defined(EMU_STANDIN)
    for (;;) to_scheduler(s);
#else
    fprintf(stderr, "%s\n", s.fault.message);
    exit(1);
#endif
}
[[noreturn]] __attribute__((format(printf, 2, 3))) inline void fail(Fault fault, const char* format, ...) {
    va_list args;
    va_start(args, format);
    fail_in(fiber_state(), fault, format, args);
}
// A fault found by the scheduler rather than inside a fiber: recorded, and the launch ends.
__attribute__((format(printf, 3, 4))) inline bool scheduler_fault(State& s, Fault fault, const char* format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(s.fault.message, sizeof s.fault.message, format, args);
    va_end(args);
    s.fault.fault = fault;
    s.fault.failed = true;
    return false;
}

// ---- fibers and sync points ----------------------------------------------------------------------------------------
// Registers static __shared__ variables the first time their declaration runs (inside the first block that uses
// them: nothing can have written them yet), poisoning them then and before every later block.
template <typename... V>
inline bool register_shared(V&... variables) {
    State& s = fiber_state();
    ((s.static_shared.emplace_back((void*)&variables, sizeof(variables)), std::memset((void*)&variables, 0xff, sizeof(variables))), ...);
    return true;
}

inline void wait(State& s, SyncGroup& g) {
    unsigned my = g.gen;
    ++s.events;
    if (++g.arrived == g.live) { g.arrived = 0; g.gen++; return; }
    while (g.gen == my) yield(s);
}
inline void leave(State& s, SyncGroup& g) {
    ++s.events;
    g.live--;
    if (g.arrived > 0 && g.arrived == g.live) { g.arrived = 0; g.gen++; }
}
inline void sync_block() { State& s = fiber_state(); wait(s, s.block_group); }
inline void sync_warp() { State& s = fiber_state(); wait(s, s.warp_groups[s.self->linear / 32]); }
// A warp collective (shuffle, ballot, match, ldmatrix, mma): this lane's slots for it (publish there before
// collective_rendezvous). Every lane counts the collectives it executes; the lanes of a warp must meet at the same one.
inline uint64_t (&collective_slots(State& s))[32][6] {
    return s.warp_slots[(s.self->collectives + 1) & 1][s.self->linear / 32];
}
// Waits until every live lane of the warp has published, checking that each arrives at the same collective as the
// first: a full-mask shuffle or mma that only part of a warp reaches (inside a divergent branch) is undefined on a
// GPU. Afterwards the slots may be read until this lane's next collective but one.
inline void collective_rendezvous(State& s) {
    Thread& me = *s.self;
    SyncGroup& g = s.warp_groups[me.linear / 32];
    uint64_t number = ++me.collectives;
    if (g.arrived == 0)
        g.collective = number;
    else if (g.collective != number)
        fail(Fault::DivergentCollective, "divergent warp collective: block (%u,%u,%u) thread %u at collective %llu, a lane of its warp at %llu",
             s.block_idx.x, s.block_idx.y, s.block_idx.z, me.linear, (unsigned long long)number, (unsigned long long)g.collective);
    wait(s, g);
}
inline void fiber_main() {
    State& s = fiber_state();
    s.kernel();
    s.self->done = true;
    s.remaining--;
    leave(s, s.block_group);
    leave(s, s.warp_groups[s.self->linear / 32]);
    yield(s);
}

inline bool start_fiber(State& s, Thread& t, int i) {
    while (!s.stack_region && (int)s.stacks.size() <= i) {
        void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return false;
        s.stacks.push_back((unsigned char*)p);
    }
    unsigned char* stack = s.stack_region ? s.stack_region + (size_t)i * kStackBytes : s.stacks[i];
#if defined(__x86_64__)
    // The first switch pops six zero registers and returns into fiber_main, with the stack aligned as after a call.
    // Stack tops are staggered by cache lines: tops 256 KiB apart would all fall in the same cache sets.
    uint64_t* sp = (uint64_t*)(stack + kStackBytes - (i % 64) * 64);
    *--sp = 0;
    *--sp = (uint64_t)(void (*)())fiber_main;
    for (int r = 0; r < 6; ++r) *--sp = 0;
    t.sp = sp;
#else
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = stack;
    t.ctx.uc_stack.ss_size = kStackBytes;
    t.ctx.uc_link = &s.sched;
    makecontext(&t.ctx, fiber_main, 0);
#endif
    return true;
}

// ---- the scheduler -------------------------------------------------------------------------------------------------
// Runs one block of the grid: every thread a fiber, resumed round by round in the schedule's order until all have
// finished. False when the kernel faulted (s.fault says how).
inline bool run_block(State& s, dim3 block_idx, size_t dyn_bytes, size_t poisoned) {
    s.block_idx = block_idx;
    if (s.dyn) std::memset(s.dyn, 0xff, poisoned);
    for (auto& [p, bytes] : s.static_shared) std::memset(p, 0xff, bytes);
    int n = s.block.x * s.block.y * s.block.z;
    if ((int)s.threads.size() != n) s.threads.resize(n);
    s.block_group = SyncGroup{0, n, 0};
    int warps = (n + 31) / 32;
    s.warp_groups.assign(warps, SyncGroup{});
    for (int w = 0; w < warps; ++w) s.warp_groups[w].live = std::min(32, n - 32 * w);
    s.or_flags[0] = 0;
    for (int i = 0; i < n; ++i) {
        s.threads[i].reset({i % s.block.x, (i / s.block.x) % s.block.y, i / (s.block.x * s.block.y)}, (unsigned)i);
        if (!start_fiber(s, s.threads[i], i)) return scheduler_fault(s, Fault::IllegalAddress, "cannot map a fiber stack");
    }
    s.remaining = n;
    // One round resumes every unfinished fiber once (in mode 3 skipping stalled warps); a fiber runs to its next sync
    // point or to its end. In order (mode 0, the stand-in's) the round resumes the first: each fiber hands over to the
    // next at its sync point (yield), the last one back here.
    auto in_order = [&] {
        for (int i = 0; i < n; ++i) {
            if (s.threads[i].done) continue;
            s.current = i;
            s.self = &s.threads[i];
            resume(s, s.threads[i]);
            return;
        }
    };
    std::vector<int> stall_left(warps, 0);
    size_t held = 0;
    int held_left = 0;
    std::vector<int> order;
    auto round = [&](bool allow_stalls) {
        if (s.order == 0) return in_order();
        if (order.empty())
            for (int i = 0; i < n; ++i) order.push_back(i);
        if (s.order == 1) std::reverse(order.begin(), order.end());
        if (s.order >= 2) std::shuffle(order.begin(), order.end(), s.rng);
        std::vector<char> stalled(warps, 0);
        if (s.order == 3 && allow_stalls) {
            // Warps run at different speeds on a GPU: a warp sits out runs of rounds, so a missing barrier lets
            // another warp overwrite or read shared memory it still uses.
            for (size_t w = 0; w < stalled.size(); ++w) {
                if (stall_left[w] == 0 && s.rng() % 6 == 0) stall_left[w] = 1 + s.rng() % 96;
                if (stall_left[w] > 0) { stalled[w] = 1; stall_left[w]--; }
            }
        }
        if (s.order == 4 && allow_stalls && stalled.size() > 1) {
            // Most warps stalled (mode 3) keeps them in step, as the rounds where none can move let all move.
            // Holding one warp back while the rest run lets the rest get many sync points ahead: a barrier missing
            // between two uses of a buffer (a reduction's scratch reused at once) shows.
            if (held_left == 0 && s.rng() % 4 == 0) { held = s.rng() % stalled.size(); held_left = 1 + s.rng() % 128; }
            if (held_left > 0) { stalled[held] = 1; held_left--; }
        }
        for (int i : order) {
            if (s.threads[i].done || stalled[i / 32]) continue;
            s.current = i;
            s.self = &s.threads[i];
            resume(s, s.threads[i]);
            if (s.fault.failed) return;
        }
    };
    while (s.remaining > 0) {
        uint64_t before = s.events;
        round(true);
        if (!s.fault.failed && s.events == before && s.remaining > 0) round(false);
        if (s.fault.failed) break;
        if (s.events == before && s.remaining > 0) {
            s.current = -1;
            s.self = nullptr;
            return scheduler_fault(s, Fault::Deadlock,
                                   "deadlock in block (%u,%u,%u): %d threads wait at barriers or warp collectives that the rest "
                                   "of their block or warp never reaches (a collective or __syncthreads in a divergent branch?)",
                                   block_idx.x, block_idx.y, block_idx.z, s.remaining);
        }
    }
    s.current = -1;
    s.self = nullptr;
    if (s.fault.failed) return false;
    if (s.dyn)
        for (size_t i = dyn_bytes; i < poisoned; ++i)
            if (s.dyn[i] != 0xff)
                return scheduler_fault(s, Fault::IllegalAddress,
                                       "block (%u,%u,%u) wrote dynamic shared memory at byte %zu, beyond the %zu bytes of the launch",
                                       block_idx.x, block_idx.y, block_idx.z, i, dyn_bytes);
    return true;
}

// Runs kernel() for the blocks of grid (blockDim block) whose numbers next() hands out (x fastest, then y, then z),
// until it hands out none. dyn is the dynamic shared memory the kernel sees (dyn_bytes of it); dyn_capacity, when
// larger, is the size of the array behind it, whose rest must stay untouched. False when the kernel faulted:
// s.fault says how, and no further block of this call runs.
template <typename Next>
inline bool run_blocks(State& s, dim3 grid, dim3 block, size_t dyn_bytes, unsigned char* dyn, size_t dyn_capacity,
                       const std::function<void()>& kernel, Next next) {
    s.grid = grid; s.block = block; s.dyn = dyn; s.dyn_size = dyn_bytes; s.kernel = kernel;
    s.fault.failed = false;
    size_t poisoned = std::max(dyn_bytes, dyn_capacity);
    uint64_t number;
    while (next(number)) {
        dim3 idx{(unsigned)(number % grid.x), (unsigned)(number / grid.x % grid.y), (unsigned)(number / grid.x / grid.y)};
        if (!run_block(s, idx, dyn_bytes, poisoned)) return false;
    }
    return true;
}

#if !defined(EMU_STANDIN)
// The checks' launch: every block in order; a fault or an impossible launch is printed and ends the program.
inline void launch(dim3 grid, dim3 block, size_t dyn_bytes, unsigned char* dyn, std::function<void()> kernel,
                   size_t dyn_capacity = 0) {
    uint64_t n = (uint64_t)block.x * block.y * block.z;
    if (n < 1 || n > 1024 || grid.x < 1 || grid.y < 1 || grid.z < 1 || grid.y > 65535 || grid.z > 65535) {
        fprintf(stderr, "invalid launch: grid (%u,%u,%u), block (%u,%u,%u)\n", grid.x, grid.y, grid.z, block.x, block.y, block.z);
        exit(1);
    }
    if (dyn_capacity && dyn_bytes > dyn_capacity) {
        fprintf(stderr, "launch asks for %zu bytes of dynamic shared memory; the check's array holds %zu\n", dyn_bytes, dyn_capacity);
        exit(1);
    }
    uint64_t blocks = (uint64_t)grid.x * grid.y * grid.z, next_block = 0;
    if (!run_blocks(g_state, grid, block, dyn_bytes, dyn, dyn_capacity, kernel,
                    [&](uint64_t& number) { number = next_block; return next_block++ < blocks; })) {
        fprintf(stderr, "%s\n", g_state.fault.message);
        exit(1);
    }
}
#endif

// The dynamic shared memory of the running launch as the kernel's extern __shared__ array (make_sources.py).
template <typename T>
inline T* dynamic_shared() {
    State& s = fiber_state();
    if (!s.dyn) fail(Fault::IllegalAddress, "a kernel uses dynamic shared memory but its launch gave it none");
    return reinterpret_cast<T*>(s.dyn);
}
}  // namespace emu

// reinterpret_cast in the kernels becomes emu_cast (make_sources.py): a vector access must be aligned to the vector's
// size, as the GPU requires (a misaligned one faults there).
template <typename P, typename Q>
inline P emu_cast(Q* q) {
    using T = std::remove_cv_t<std::remove_pointer_t<P>>;
    constexpr size_t align = std::is_same_v<T, unsigned char> ? 1 : alignof(T);
    if ((uintptr_t)q % align)
        emu::fail(emu::Fault::MisalignedAddress, "misaligned %zu-byte access at %p (a vector path on an unaligned pointer)", align,
                  (const void*)q);
    return reinterpret_cast<P>(q);
}

// threadIdx.x etc. as expressions
#define threadIdx (emu::fiber_state().self->tid)
#define blockIdx (emu::fiber_state().block_idx)
#define blockDim (emu::fiber_state().block)
#define gridDim (emu::fiber_state().grid)

inline void __syncthreads() { emu::sync_block(); }
inline int __syncthreads_or(int pred) {
    emu::State& s = emu::fiber_state();
    if (pred) s.or_flags[0] = 1;
    emu::wait(s, s.block_group);
    int r = s.or_flags[0];
    emu::wait(s, s.block_group);
    if (s.self->linear == 0) s.or_flags[0] = 0;
    emu::wait(s, s.block_group);
    return r;
}
inline void __syncwarp(unsigned = 0xffffffffu) { emu::sync_warp(); }

// Every lane of the warp publishes bits; after the rendezvous, read(slots) computes this lane's result from all of them.
template <typename Read>
inline auto emu_warp_collective(uint64_t bits, Read read) {
    emu::State& s = emu::fiber_state();
    auto& slots = emu::collective_slots(s);
    slots[s.self->linear % 32][0] = bits;
    emu::collective_rendezvous(s);
    return read(slots);
}
template <typename T>
inline T emu_exchange(T v, int src_lane) {
    static_assert(sizeof(T) <= 8);
    uint64_t bits = 0; std::memcpy(&bits, &v, sizeof(T));
    // A source lane outside the warp wraps around (the PTX shfl.idx semantics for the full-warp width).
    uint64_t got = emu_warp_collective(bits, [&](auto& slots) { return slots[src_lane & 31][0]; });
    T r; std::memcpy(&r, &got, sizeof(T)); return r;
}
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int offset) { return emu_exchange(v, emu::lane() ^ offset); }
template <typename T> inline T __shfl_sync(unsigned, T v, int src) { return emu_exchange(v, src); }
// A lane below delta keeps its own value.
template <typename T> inline T __shfl_up_sync(unsigned, T v, unsigned delta) {
    int l = emu::lane();
    return emu_exchange(v, l >= (int)delta ? l - (int)delta : l);
}
template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned delta) {
    int l = emu::lane();
    return emu_exchange(v, l + (int)delta < 32 ? l + (int)delta : l);
}
inline unsigned __ballot_sync(unsigned, int pred) {
    return emu_warp_collective(pred ? 1 : 0, [](auto& slots) {
        unsigned r = 0;
        for (int l = 0; l < 32; ++l) if (slots[l][0]) r |= 1u << l;
        return r;
    });
}
// The lanes whose value equals this lane's.
template <typename T>
inline unsigned __match_any_sync(unsigned, T v) {
    static_assert(sizeof(T) <= 8);
    uint64_t bits = 0; std::memcpy(&bits, &v, sizeof(T));
    return emu_warp_collective(bits, [&](auto& slots) {
        unsigned r = 0;
        for (int l = 0; l < 32; ++l) if (slots[l][0] == bits) r |= 1u << l;
        return r;
    });
}
#if !defined(EMU_STANDIN)
// A fiber runs uninterrupted between sync points, so a read-modify-write is atomic by construction.
inline int atomicMin(int* p, int v) { int old = *p; if (v < old) *p = v; return old; }
inline int atomicMax(int* p, int v) { int old = *p; if (v > old) *p = v; return old; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned old = *p; *p = old + v; return old; }
inline int atomicAdd(int* p, int v) { int old = *p; *p = old + v; return old; }
inline float atomicAdd(float* p, float v) { float old = *p; *p = old + v; return old; }
#else
// Blocks of one grid run on several OS threads in the stand-in: atomics on global memory must be atomic there too.
inline int atomicMin(int* p, int v) {
    int old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return old;
}
inline int atomicMax(int* p, int v) {
    int old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v > old && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return old;
}
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline float atomicAdd(float* p, float v) {
    unsigned* bits = reinterpret_cast<unsigned*>(p);
    unsigned old = __atomic_load_n(bits, __ATOMIC_RELAXED), next;
    do next = __float_as_uint(__uint_as_float(old) + v);
    while (!__atomic_compare_exchange_n(bits, &old, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return __uint_as_float(old);
}
#endif

// ---- the primitives common.cuh implements with inline PTX ----------------------------------------------------------
inline float fast_exp2(float x) { return std::exp2(x); }
// The shared window as the PTX primitives address it: the dynamic shared memory from 0, each static __shared__
// variable (in the order met) from kStaticWindow on, one after another.
constexpr unsigned kStaticWindow = 1u << 30;
inline unsigned int shared_address(const void* p) {
    emu::State& s = emu::fiber_state();
    auto* b = (const unsigned char*)p;
    if (s.dyn && b >= s.dyn && b <= s.dyn + s.dyn_size) return (unsigned)(b - s.dyn);
    unsigned window = kStaticWindow;
    for (auto& [variable, bytes] : s.static_shared) {
        auto* v = (const unsigned char*)variable;
        if (b >= v && b <= v + bytes) return window + (unsigned)(b - v);
        window += (unsigned)bytes;
    }
    emu::fail(emu::Fault::IllegalAddress, "shared_address of %p: not shared memory", p);
}
inline unsigned char* emu_smem(emu::State& s, unsigned addr, unsigned bytes) {
    if (addr < kStaticWindow) {
        if ((size_t)addr + bytes > s.dyn_size)
            emu::fail(emu::Fault::IllegalAddress, "shared access of %u bytes at %u beyond the %zu bytes of dynamic shared memory", bytes,
                      addr, s.dyn_size);
        return s.dyn + addr;
    }
    unsigned window = kStaticWindow;
    for (auto& [variable, size] : s.static_shared) {
        if (addr >= window && (size_t)addr - window + bytes <= size) return (unsigned char*)variable + (addr - window);
        window += (unsigned)size;
    }
    emu::fail(emu::Fault::IllegalAddress, "shared access of %u bytes at %u: outside every static shared variable", bytes, addr);
}
inline void emu_ldmatrix(unsigned* frag, int count, unsigned addr, bool trans) {
    emu::State& s = emu::fiber_state();
    int l = s.self->linear % 32;
    auto& slots = emu::collective_slots(s);
    slots[l][0] = addr;
    emu::collective_rendezvous(s);
    for (int i = 0; i < count; ++i) {
        if (!trans) {
            unsigned row_addr = (unsigned)slots[8 * i + l / 4][0];
            if (row_addr % 16) emu::fail(emu::Fault::MisalignedAddress, "ldmatrix row address %u not 16-byte aligned", row_addr);
            std::memcpy(&frag[i], emu_smem(s, row_addr + (l % 4) * 4, 4), 4);
        } else {
            unsigned short lo, hi;
            unsigned r0 = (unsigned)slots[8 * i + 2 * (l % 4)][0], r1 = (unsigned)slots[8 * i + 2 * (l % 4) + 1][0];
            std::memcpy(&lo, emu_smem(s, r0 + 2 * (l / 4), 2), 2);
            std::memcpy(&hi, emu_smem(s, r1 + 2 * (l / 4), 2), 2);
            frag[i] = lo | ((unsigned)hi << 16);
        }
    }
}
inline void ldmatrix_x4(unsigned int (&f)[4], unsigned int a) { emu_ldmatrix(f, 4, a, false); }
inline void ldmatrix_x2(unsigned int (&f)[2], unsigned int a) { emu_ldmatrix(f, 2, a, false); }
inline void ldmatrix_x4_trans(unsigned int (&f)[4], unsigned int a) { emu_ldmatrix(f, 4, a, true); }
inline void ldmatrix_x2_trans(unsigned int (&f)[2], unsigned int a) { emu_ldmatrix(f, 2, a, true); }

inline float emu_bf(unsigned reg, int half) { return __uint_as_float(half ? (reg & 0xffff0000u) : (reg << 16)); }
inline void mma_m16n8k16_bf16(float (&d)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]) {
    emu::State& s = emu::fiber_state();
    int l = s.self->linear % 32;
    auto& slots = emu::collective_slots(s);
    for (int i = 0; i < 4; ++i) slots[l][i] = a[i];
    slots[l][4] = b[0]; slots[l][5] = b[1];
    emu::collective_rendezvous(s);
    float out[4];
    for (int i = 0; i < 4; ++i) {
        int r = l / 4 + (i >= 2 ? 8 : 0), n = 2 * (l % 4) + (i & 1);
        float sum = d[i];
        for (int k = 0; k < 16; ++k) {
            int la = (r % 8) * 4 + (k % 8) / 2, ra = (r / 8) + 2 * (k / 8);
            int lb = n * 4 + (k % 8) / 2, rb = k / 8;
            float av = emu_bf((unsigned)slots[la][ra], k % 2), bv = emu_bf((unsigned)slots[lb][4 + rb], k % 2);
            sum += av * bv;
        }
        out[i] = sum;
    }
    for (int i = 0; i < 4; ++i) d[i] = out[i];
}

inline void emu_do_copy(emu::State& s, const std::pair<unsigned, const void*>& c) {
    unsigned char* dst = emu_smem(s, c.first, 16);
    if (c.second) std::memcpy(dst, c.second, 16); else std::memset(dst, 0, 16);
}
inline void cp_async_16(unsigned int shared, const void* global, bool pred) {
    if (shared % 16 || (pred && ((uintptr_t)global % 16)))
        emu::fail(emu::Fault::MisalignedAddress, "cp.async misaligned: shared %u, global %p", shared, global);
    std::pair<unsigned, const void*> c{shared, pred ? global : nullptr};
    emu::State& s = emu::fiber_state();
    if (s.async_deferred) s.self->copies.push_back(c); else emu_do_copy(s, c);
}
inline void cp_async_commit() { emu::Thread& t = emu::self(); t.group_ends.push_back(t.copies.size()); }
// Lands every committed group but the newest `pending`.
template <int pending>
inline void cp_async_wait() {
    emu::State& s = emu::fiber_state();
    emu::Thread& t = *s.self;
    while ((int)(t.group_ends.size() - t.landed_groups) > pending) {
        size_t end = t.group_ends[t.landed_groups++];
        for (; t.landed < end; ++t.landed) emu_do_copy(s, t.copies[t.landed]);
    }
}
inline void st_shared_16(unsigned int shared, unsigned int a, unsigned int b, unsigned int c, unsigned int d) {
    if (shared % 16) emu::fail(emu::Fault::MisalignedAddress, "st.shared.v4 misaligned: %u", shared);
    unsigned v[4] = {a, b, c, d}; std::memcpy(emu_smem(emu::fiber_state(), shared, 16), v, 16);
}
inline uint4 ld_stream_16(const void* p) {
    if ((uintptr_t)p % 16) emu::fail(emu::Fault::MisalignedAddress, "16-byte load misaligned: %p", p);
    uint4 v; std::memcpy(&v, p, 16); return v;
}
inline uint4 ld_global_16(const void* p) { return ld_stream_16(p); }
