// CPU emulation of the CUDA features the kernels use, so their index math, fragment layouts, bounds and barriers
// can be run and checked without a GPU. Every CUDA thread of a block is a fiber on one OS thread; a fiber runs until
// it reaches a __syncthreads or a warp collective (shfl, ballot, match, ldmatrix, mma), where it waits for its block
// or warp. ldmatrix.m8n8 (plain and .trans) and mma.m16n8k16 bf16 distribute elements as the PTX ISA's fragment
// tables say, lane by lane. Shared memory, dynamic and static, is refilled with 0xff (NaN for bf16, fp32 and fp64,
// -1 for integers) for every block, so a read of an unwritten byte shows in the results; a write past the end of the
// dynamic shared memory a launch asked for is reported. Vector accesses (float4, uint4, float2, through
// reinterpret_cast) must be aligned as on the GPU. The schedule (g_order) and when cp.async data lands
// (g_async_deferred) are chosen to expose missing barriers and waits; see run.sh.
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <deque>
#include <functional>
#include <algorithm>
#include <random>
#include <type_traits>
#include <sys/mman.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// Static shared memory: one instance per variable (blocks run one after another). make_sources.py follows every
// declaration with emu_shared(variables...), which registers them to be poisoned before every block.
#define __shared__ static

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

// reinterpret_cast in the kernels becomes emu_cast (make_sources.py): a vector access must be aligned to the vector's
// size, as the GPU requires (a misaligned one faults there).
template <typename P, typename Q>
inline P emu_cast(Q* q) {
    using T = std::remove_cv_t<std::remove_pointer_t<P>>;
    constexpr size_t align = std::is_same_v<T, unsigned char> ? 1 : alignof(T);
    if ((uintptr_t)q % align) {
        fprintf(stderr, "misaligned %zu-byte access at %p (a vector path on an unaligned pointer)\n", align, (const void*)q);
        exit(1);
    }
    return reinterpret_cast<P>(q);
}

// ---- fibers ---------------------------------------------------------------------------------------------------
#if defined(__x86_64__)
// A context switch that saves only what the System V ABI says a call preserves (no signal mask system call, as
// swapcontext makes): emu_switch(&save, next) stores the stack pointer in save and resumes the stack next.
extern "C" void emu_switch(void** save, void* next);
asm(R"(
    .text
    .globl emu_switch
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
struct SyncGroup { int arrived = 0, live = 0; unsigned gen = 0; };
struct Thread {
#if defined(__x86_64__)
    void* sp = nullptr;
#else
    ucontext_t ctx;
#endif
    dim3 tid;
    bool done = false;
    std::deque<std::vector<std::pair<unsigned, const void*>>> groups;  // committed cp.async groups (dst, src or null)
    std::vector<std::pair<unsigned, const void*>> open;
    uint64_t collectives = 0;  // warp collectives this thread has executed
};
inline dim3 g_block, g_grid, g_block_idx;
inline std::vector<Thread> g_threads;
inline int g_current = -1;
#if defined(__x86_64__)
inline void* g_sched_sp = nullptr;
#else
inline ucontext_t g_sched;
#endif
inline SyncGroup g_block_group;
inline std::vector<SyncGroup> g_warp_groups;
inline unsigned char* g_dyn = nullptr;  // the dynamic shared memory of the running kernel
inline size_t g_dyn_size = 0;
inline bool g_async_deferred = true;    // cp.async lands at wait_group (true) or at issue (false)
// 0 in order, 1 reversed, 2 shuffled, 3 shuffled with warps stalled at random, 4 shuffled with one warp at a time held
// back for a long run while the others go on
inline int g_order = 0;
inline std::mt19937 g_rng(1);
inline uint64_t g_warp_slots[64][32][10];  // per warp and lane: the values a collective exchanges; [9] its count
inline int g_or_flags[1];
inline std::function<void()> g_kernel;
inline std::vector<std::pair<void*, size_t>> g_static_shared;  // the static __shared__ variables met so far

// Registers static __shared__ variables the first time their declaration runs (inside the first block that uses
// them: nothing can have written them yet), poisoning them then and before every later block.
template <typename... V>
inline bool register_shared(V&... variables) {
    ((g_static_shared.emplace_back((void*)&variables, sizeof(variables)), std::memset((void*)&variables, 0xff, sizeof(variables))), ...);
    return true;
}

inline uint64_t g_events = 0;  // arrivals at sync points and thread exits: a round without one is a deadlock

inline Thread& self() { return g_threads[g_current]; }
inline int lane() { return self().tid.x % 32; }
inline int warp() { return self().tid.x / 32; }
#if defined(__x86_64__)
inline void yield() { emu_switch(&self().sp, g_sched_sp); }
inline void resume(Thread& t) { emu_switch(&g_sched_sp, t.sp); }
#else
inline void yield() { swapcontext(&self().ctx, &g_sched); }
inline void resume(Thread& t) { swapcontext(&g_sched, &t.ctx); }
#endif
inline void wait(SyncGroup& g) {
    unsigned my = g.gen;
    ++g_events;
    if (++g.arrived == g.live) { g.arrived = 0; g.gen++; return; }
    while (g.gen == my) yield();
}
inline void leave(SyncGroup& g) {
    ++g_events;
    g.live--;
    if (g.arrived > 0 && g.arrived == g.live) { g.arrived = 0; g.gen++; }
}
// Called by every lane at the start of a warp collective, before the first rendezvous: records how many collectives
// this lane has executed, so that after the rendezvous each lane can check that its whole warp is at the same one.
// A full-mask shuffle or mma that only part of a warp reaches (inside a divergent branch) is undefined on a GPU.
inline void enter_collective() { g_warp_slots[warp()][lane()][9] = ++self().collectives; }
inline void check_collective() {
    for (int l = 0; l < 32; ++l) {
        int i = warp() * 32 + l;
        if (i >= (int)g_threads.size() || g_threads[i].done) continue;
        if (g_warp_slots[warp()][l][9] != self().collectives) {
            fprintf(stderr, "divergent warp collective: block (%u,%u,%u) thread %d at collective %llu, lane %d at %llu\n",
                    g_block_idx.x, g_block_idx.y, g_block_idx.z, (int)self().tid.x, (unsigned long long)self().collectives, l,
                    (unsigned long long)g_warp_slots[warp()][l][9]);
            exit(1);
        }
    }
}
inline void fiber_main() {
    g_kernel();
    self().done = true;
    leave(g_block_group);
    leave(g_warp_groups[warp()]);
    self().groups.clear();
    self().open.clear();
    yield();
}

// Fiber stacks: reserved once, committed by the kernel as they are touched.
constexpr size_t kStackBytes = 256 * 1024;
inline std::vector<unsigned char*> g_stacks;
inline void start_fiber(Thread& t, int i) {
    while ((int)g_stacks.size() <= i) {
        void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) { fprintf(stderr, "cannot map a fiber stack\n"); exit(1); }
        g_stacks.push_back((unsigned char*)p);
    }
#if defined(__x86_64__)
    // The first switch pops six zero registers and returns into fiber_main, with the stack aligned as after a call.
    uint64_t* sp = (uint64_t*)(g_stacks[i] + kStackBytes);
    *--sp = 0;
    *--sp = (uint64_t)(void (*)())fiber_main;
    for (int r = 0; r < 6; ++r) *--sp = 0;
    t.sp = sp;
#else
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = g_stacks[i];
    t.ctx.uc_stack.ss_size = kStackBytes;
    t.ctx.uc_link = &g_sched;
    makecontext(&t.ctx, fiber_main, 0);
#endif
}

// Runs kernel() for every block of grid with blockDim block. dyn is the dynamic shared memory the kernel sees
// (dyn_bytes of it); dyn_capacity, when larger, is the size of the array behind it, whose rest must stay untouched.
inline void launch(dim3 grid, dim3 block, size_t dyn_bytes, unsigned char* dyn, std::function<void()> kernel,
                   size_t dyn_capacity = 0) {
    g_grid = grid; g_block = block; g_dyn = dyn; g_dyn_size = dyn_bytes; g_kernel = kernel;
    int n = block.x * block.y * block.z;
    if (block.y != 1 || block.z != 1) { fprintf(stderr, "1-D blocks only\n"); exit(1); }
    if (n < 1 || n > 1024 || grid.x < 1 || grid.y < 1 || grid.z < 1 || grid.y > 65535 || grid.z > 65535) {
        fprintf(stderr, "invalid launch: grid (%u,%u,%u), block %d\n", grid.x, grid.y, grid.z, n); exit(1);
    }
    if (dyn_capacity && dyn_bytes > dyn_capacity) {
        fprintf(stderr, "launch asks for %zu bytes of dynamic shared memory; the check's array holds %zu\n", dyn_bytes, dyn_capacity); exit(1);
    }
    size_t poisoned = std::max(dyn_bytes, dyn_capacity);
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                g_block_idx = {bx, by, bz};
                if (dyn) std::memset(dyn, 0xff, poisoned);
                for (auto& [p, bytes] : g_static_shared) std::memset(p, 0xff, bytes);
                g_threads.assign(n, Thread{});
                g_block_group = SyncGroup{0, n, 0};
                int warps = (n + 31) / 32;
                g_warp_groups.assign(warps, SyncGroup{});
                for (int w = 0; w < warps; ++w) g_warp_groups[w].live = std::min(32, n - 32 * w);
                g_or_flags[0] = 0;
                for (int i = 0; i < n; ++i) {
                    g_threads[i].tid = {(unsigned)i, 0, 0};
                    start_fiber(g_threads[i], i);
                }
                int remaining = n;
                std::vector<int> stall_left((n + 31) / 32, 0);
                size_t held = 0;
                int held_left = 0;
                std::vector<int> order(n);
                for (int i = 0; i < n; ++i) order[i] = i;
                // One round resumes every unfinished fiber once (in mode 3 skipping stalled warps); a fiber runs to
                // its next sync point or to its end.
                auto round = [&](bool allow_stalls) {
                    if (g_order == 1) std::reverse(order.begin(), order.end());
                    if (g_order >= 2) std::shuffle(order.begin(), order.end(), g_rng);
                    std::vector<char> stalled((n + 31) / 32, 0);
                    if (g_order == 3 && allow_stalls) {
                        // Warps run at different speeds on a GPU: a warp sits out runs of rounds, so a missing
                        // barrier lets another warp overwrite or read shared memory it still uses.
                        for (size_t w = 0; w < stalled.size(); ++w) {
                            if (stall_left[w] == 0 && g_rng() % 6 == 0) stall_left[w] = 1 + g_rng() % 96;
                            if (stall_left[w] > 0) { stalled[w] = 1; stall_left[w]--; }
                        }
                    }
                    if (g_order == 4 && allow_stalls && stalled.size() > 1) {
                        // Most warps stalled (mode 3) keeps them in step, as the rounds where none can move let all
                        // move. Holding one warp back while the rest run lets the rest get many sync points ahead:
                        // a barrier missing between two uses of a buffer (a reduction's scratch reused at once)
                        // shows.
                        if (held_left == 0 && g_rng() % 4 == 0) { held = g_rng() % stalled.size(); held_left = 1 + g_rng() % 128; }
                        if (held_left > 0) { stalled[held] = 1; held_left--; }
                    }
                    for (int i : order) {
                        if (g_threads[i].done || stalled[i / 32]) continue;
                        g_current = i;
                        resume(g_threads[i]);
                        if (g_threads[i].done) remaining--;
                    }
                };
                while (remaining > 0) {
                    uint64_t before = g_events;
                    round(true);
                    if (g_events == before && remaining > 0) round(false);
                    if (g_events == before && remaining > 0) {
                        int at_block = 0;
                        for (auto& t : g_threads) at_block += !t.done;
                        fprintf(stderr, "deadlock in block (%u,%u,%u): %d threads wait at barriers or warp collectives that "
                                "the rest of their block or warp never reaches (a collective or __syncthreads in a divergent "
                                "branch?)\n", bx, by, bz, at_block);
                        exit(1);
                    }
                }
                g_current = -1;
                if (dyn)
                    for (size_t i = dyn_bytes; i < poisoned; ++i)
                        if (dyn[i] != 0xff) {
                            fprintf(stderr, "block (%u,%u,%u) wrote dynamic shared memory at byte %zu, beyond the %zu bytes of the launch\n",
                                    bx, by, bz, i, dyn_bytes);
                            exit(1);
                        }
            }
}
}  // namespace emu

// threadIdx.x etc. as expressions
#define threadIdx (emu::self().tid)
#define blockIdx (emu::g_block_idx)
#define blockDim (emu::g_block)
#define gridDim (emu::g_grid)

inline void __syncthreads() { emu::wait(emu::g_block_group); }
inline int __syncthreads_or(int pred) {
    if (pred) emu::g_or_flags[0] = 1;
    emu::wait(emu::g_block_group);
    int r = emu::g_or_flags[0];
    emu::wait(emu::g_block_group);
    if (emu::self().tid.x == 0) emu::g_or_flags[0] = 0;
    emu::wait(emu::g_block_group);
    return r;
}
inline void __syncwarp(unsigned = 0xffffffffu) { emu::wait(emu::g_warp_groups[emu::warp()]); }

// Every lane of the warp publishes bits; after the rendezvous, read(slots) computes this lane's result from all of them.
template <typename Read>
inline auto emu_warp_collective(uint64_t bits, Read read) {
    auto& slots = emu::g_warp_slots[emu::warp()];
    emu::enter_collective();
    slots[emu::lane()][0] = bits;
    emu::wait(emu::g_warp_groups[emu::warp()]);
    emu::check_collective();
    auto r = read(slots);
    emu::wait(emu::g_warp_groups[emu::warp()]);
    return r;
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
    return emu_exchange(v, emu::lane() >= (int)delta ? emu::lane() - (int)delta : emu::lane());
}
template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned delta) {
    return emu_exchange(v, emu::lane() + (int)delta < 32 ? emu::lane() + (int)delta : emu::lane());
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
// A fiber runs uninterrupted between sync points, so a read-modify-write is atomic by construction.
inline int atomicMin(int* p, int v) { int old = *p; if (v < old) *p = v; return old; }
inline int atomicMax(int* p, int v) { int old = *p; if (v > old) *p = v; return old; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned old = *p; *p = old + v; return old; }
inline int atomicAdd(int* p, int v) { int old = *p; *p = old + v; return old; }
inline float atomicAdd(float* p, float v) { float old = *p; *p = old + v; return old; }

// ---- the primitives common.cuh implements with inline PTX ----------------------------------------------------------
inline float fast_exp2(float x) { return std::exp2(x); }
inline unsigned int shared_address(const void* p) {
    long d = (const unsigned char*)p - emu::g_dyn;
    if (emu::g_dyn == nullptr || d < 0 || (size_t)d > emu::g_dyn_size) { fprintf(stderr, "shared_address outside dynamic smem\n"); exit(1); }
    return (unsigned)d;
}
inline unsigned char* emu_smem(unsigned addr, unsigned bytes) {
    if ((size_t)addr + bytes > emu::g_dyn_size) { fprintf(stderr, "shared access %u+%u beyond %zu\n", addr, bytes, emu::g_dyn_size); exit(1); }
    return emu::g_dyn + addr;
}
inline void emu_ldmatrix(unsigned* frag, int count, unsigned addr, bool trans) {
    auto& slots = emu::g_warp_slots[emu::warp()];
    int l = emu::lane();
    emu::enter_collective();
    slots[l][0] = addr;
    emu::wait(emu::g_warp_groups[emu::warp()]);
    emu::check_collective();
    for (int i = 0; i < count; ++i) {
        if (!trans) {
            unsigned row_addr = (unsigned)slots[8 * i + l / 4][0];
            if (row_addr % 16) { fprintf(stderr, "ldmatrix row address not 16-byte aligned\n"); exit(1); }
            std::memcpy(&frag[i], emu_smem(row_addr + (l % 4) * 4, 4), 4);
        } else {
            unsigned short lo, hi;
            unsigned r0 = (unsigned)slots[8 * i + 2 * (l % 4)][0], r1 = (unsigned)slots[8 * i + 2 * (l % 4) + 1][0];
            std::memcpy(&lo, emu_smem(r0 + 2 * (l / 4), 2), 2);
            std::memcpy(&hi, emu_smem(r1 + 2 * (l / 4), 2), 2);
            frag[i] = lo | ((unsigned)hi << 16);
        }
    }
    emu::wait(emu::g_warp_groups[emu::warp()]);
}
inline void ldmatrix_x4(unsigned int (&f)[4], unsigned int a) { emu_ldmatrix(f, 4, a, false); }
inline void ldmatrix_x2(unsigned int (&f)[2], unsigned int a) { emu_ldmatrix(f, 2, a, false); }
inline void ldmatrix_x4_trans(unsigned int (&f)[4], unsigned int a) { emu_ldmatrix(f, 4, a, true); }
inline void ldmatrix_x2_trans(unsigned int (&f)[2], unsigned int a) { emu_ldmatrix(f, 2, a, true); }

inline float emu_bf(unsigned reg, int half) { return __uint_as_float(half ? (reg & 0xffff0000u) : (reg << 16)); }
inline void mma_m16n8k16_bf16(float (&d)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]) {
    auto& slots = emu::g_warp_slots[emu::warp()];
    int l = emu::lane();
    for (int i = 0; i < 4; ++i) slots[l][i] = a[i];
    slots[l][4] = b[0]; slots[l][5] = b[1];
    emu::enter_collective();
    emu::wait(emu::g_warp_groups[emu::warp()]);
    emu::check_collective();
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
    emu::wait(emu::g_warp_groups[emu::warp()]);
    for (int i = 0; i < 4; ++i) d[i] = out[i];
}

inline void emu_do_copy(const std::pair<unsigned, const void*>& c) {
    unsigned char* dst = emu_smem(c.first, 16);
    if (c.second) std::memcpy(dst, c.second, 16); else std::memset(dst, 0, 16);
}
inline void cp_async_16(unsigned int shared, const void* global, bool pred) {
    if (shared % 16 || (pred && ((uintptr_t)global % 16))) { fprintf(stderr, "cp.async misaligned\n"); exit(1); }
    std::pair<unsigned, const void*> c{shared, pred ? global : nullptr};
    if (emu::g_async_deferred) emu::self().open.push_back(c); else emu_do_copy(c);
}
inline void cp_async_commit() { emu::self().groups.push_back(std::move(emu::self().open)); emu::self().open.clear(); }
template <int pending>
inline void cp_async_wait() {
    auto& g = emu::self().groups;
    while ((int)g.size() > pending) { for (auto& c : g.front()) emu_do_copy(c); g.pop_front(); }
}
inline void st_shared_16(unsigned int shared, unsigned int a, unsigned int b, unsigned int c, unsigned int d) {
    if (shared % 16) { fprintf(stderr, "st.shared.v4 misaligned\n"); exit(1); }
    unsigned v[4] = {a, b, c, d}; std::memcpy(emu_smem(shared, 16), v, 16);
}
inline uint4 ld_stream_16(const void* p) {
    if ((uintptr_t)p % 16) { fprintf(stderr, "16-byte load misaligned\n"); exit(1); }
    uint4 v; std::memcpy(&v, p, 16); return v;
}
inline uint4 ld_global_16(const void* p) { return ld_stream_16(p); }
