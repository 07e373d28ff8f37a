#include "launcher.h"

#include <atomic>
#include <cstdarg>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <sched.h>
#include <sys/mman.h>
#include <thread>
#include <ucontext.h>
#include <unistd.h>
#include <vector>

namespace standin {
namespace {

// The opt-in maximum of an H100 (227 KiB), and room beyond the launch's bytes for an overrun to land and be seen.
constexpr size_t kMaxDynamicShared = 232448;
constexpr size_t kSharedSlack = 4096;
constexpr int kMaxWorkers = 64;

// The fiber stack regions of the workers, for the fault handler (written once per worker before it runs a kernel).
std::atomic<uintptr_t> g_stack_lo[kMaxWorkers], g_stack_hi[kMaxWorkers];
std::atomic<int> g_stack_regions{0};
struct sigaction g_previous[NSIG];

bool in_fiber_stack(uintptr_t sp) {
    int n = g_stack_regions.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i)
        if (sp >= g_stack_lo[i].load(std::memory_order_relaxed) && sp < g_stack_hi[i].load(std::memory_order_relaxed)) return true;
    return false;
}

thread_local uintptr_t t_fault_address = 0;
thread_local bool t_fault_has_address = false;

[[noreturn]] void fault_in(emu::State& state, const char* format, ...) {
    va_list args;
    va_start(args, format);
    emu::fail_in(state, emu::Fault::IllegalAddress, format, args);
}

// A fault on a fiber stack is a kernel's: it ends the launch (the fiber goes back to its worker's scheduler and is
// never resumed). Any other is passed on to whoever handled the signal before (the .NET runtime).
void on_fault(int signal, siginfo_t* info, void* context) {
    auto* uc = (ucontext_t*)context;
#if defined(__x86_64__)
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.sp;
#else
    uintptr_t sp = 0;
#endif
    if (in_fiber_stack(sp)) {
        // The handler may run on an alternate signal stack: the state is found from the interrupted fiber's stack.
        emu::State& state = emu::state_of_stack(sp);
        if (state.self) {
            t_fault_address = (uintptr_t)info->si_addr;
            t_fault_has_address = signal != SIGFPE;
            const char* what = signal == SIGFPE
                ? "an integer division by zero (a GPU gives an undefined value; the emulator's CPU traps)"
                : "a memory access fault at %p";
            fault_in(state, what, info->si_addr);
        }
    }
    const struct sigaction& previous = g_previous[signal];
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(signal, info, context);
    } else if (previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN) {
        // Re-raised on return with the default action (a crash, as without the stand-in).
        struct sigaction fallback = {};
        fallback.sa_handler = SIG_DFL;
        sigaction(signal, &fallback, nullptr);
    } else {
        previous.sa_handler(signal);
    }
}

void install_fault_handlers() {
    for (int signal : {SIGSEGV, SIGBUS, SIGFPE}) {
        struct sigaction action = {};
        action.sa_sigaction = on_fault;
        // SA_NODEFER: a handler that leaves for the worker's scheduler must not leave the signal blocked behind it.
        action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        sigaction(signal, &action, &g_previous[signal]);
    }
}

// One launch, as the workers see it.
struct Job {
    const std::function<void()>* body = nullptr;
    LaunchShape shape;
    uint64_t blocks = 0;
    std::atomic<uint64_t> next{0};
    std::atomic<bool> stop{false};
    bool faulted = false;
    KernelFault fault;
};

class Workers {
public:
    explicit Workers(int count) {
        for (int i = 0; i < count; ++i) threads_.emplace_back([this, i] { run(i); });
        std::unique_lock<std::mutex> lock(mutex_);
        ready_cv_.wait(lock, [&] { return ready_ == (int)threads_.size(); });
    }

    int count() const { return (int)threads_.size(); }

    bool execute(const std::function<void()>& body, const LaunchShape& shape, KernelFault& fault) {
        Job job;
        job.body = &body;
        job.shape = shape;
        job.blocks = (uint64_t)shape.grid.x * shape.grid.y * shape.grid.z;
        std::unique_lock<std::mutex> lock(mutex_);
        job_ = &job;
        // More workers than blocks would only wait for nothing.
        running_ = (int)std::min<uint64_t>(threads_.size(), job.blocks);
        wanted_ = running_;
        generation_++;
        work_cv_.notify_all();
        done_cv_.wait(lock, [&] { return running_ == 0; });
        job_ = nullptr;
        if (job.faulted) fault = job.fault;
        return !job.faulted;
    }

private:
    void run(int index) {
        // The emulator's state and fiber stacks, and the dynamic shared memory, all this worker's own.
        uintptr_t begin, end;
        if (!emu::start_block_thread(begin, end)) abort();
        auto* shared = (unsigned char*)mmap(nullptr, kMaxDynamicShared + kSharedSlack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED) abort();
        std::unique_lock<std::mutex> lock(mutex_);
        int slot = g_stack_regions.load(std::memory_order_relaxed);
        g_stack_lo[slot] = begin;
        g_stack_hi[slot] = end;
        g_stack_regions.store(slot + 1, std::memory_order_release);
        ready_++;
        ready_cv_.notify_all();
        uint64_t seen = 0;
        for (;;) {
            work_cv_.wait(lock, [&] { return generation_ != seen && index < wanted_; });
            seen = generation_;
            Job& job = *job_;
            lock.unlock();
            run_blocks(job, shared);
            lock.lock();
            if (--running_ == 0) done_cv_.notify_all();
        }
    }

    static void run_blocks(Job& job, unsigned char* shared) {
        const LaunchShape& s = job.shape;
        // No dynamic shared memory asked for: none given, and a kernel that uses some faults as on a GPU.
        unsigned char* dyn = s.dynamic_bytes ? shared : nullptr;
        size_t capacity = s.dynamic_bytes ? std::min(s.dynamic_bytes + kSharedSlack, kMaxDynamicShared + kSharedSlack) : 0;
        t_fault_has_address = false;
        emu::State& state = emu::scheduler_state();
        bool ok = emu::run_blocks(state, s.grid, s.block, s.dynamic_bytes, dyn, capacity, *job.body, [&](uint64_t& number) {
            if (job.stop.load(std::memory_order_relaxed)) return false;
            number = job.next.fetch_add(1, std::memory_order_relaxed);
            return number < job.blocks;
        });
        if (ok) return;
        job.stop = true;
        static std::mutex fault_mutex;
        std::lock_guard<std::mutex> guard(fault_mutex);
        if (job.faulted) return;
        job.faulted = true;
        job.fault.fault = state.fault.fault;
        job.fault.message = state.fault.message;
        job.fault.has_address = t_fault_has_address;
        job.fault.address = t_fault_address;
    }

    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable work_cv_, done_cv_, ready_cv_;
    Job* job_ = nullptr;
    uint64_t generation_ = 0;
    int running_ = 0, wanted_ = 0, ready_ = 0;
};

Workers* g_workers = nullptr;

int default_worker_count() {
    if (const char* text = getenv("COAR_STANDIN_THREADS")) {
        int n = atoi(text);
        if (n >= 1) return std::min(n, kMaxWorkers);
    }
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)std::thread::hardware_concurrency();
    return std::max(1, std::min(cpus, 16));
}

bool execute_on_workers(void* launch, const std::function<void()>& body) {
    auto* context = (std::pair<const LaunchShape*, KernelFault*>*)launch;
    return g_workers->execute(body, *context->first, *context->second);
}

}  // namespace

void start_workers() {
    if (g_workers) return;
    install_fault_handlers();
    g_workers = new Workers(default_worker_count());
}

int worker_count() { return g_workers ? g_workers->count() : 0; }

bool run_kernel(const KernelEntry& kernel, void* const* arguments, const LaunchShape& shape, KernelFault& fault) {
    std::pair<const LaunchShape*, KernelFault*> context{&shape, &fault};
    return kernel.run(arguments, execute_on_workers, &context);
}

}  // namespace standin
