// The stand-in's device memory: host memory with guards. Every allocation gets pages of its own between two
// inaccessible guard pages; it ends 256-byte aligned as close to the upper guard page as alignment allows, and the
// slack around it (below it up to the lower guard page, above it up to the upper one) holds a canary pattern that is
// checked after every launch. New memory is filled with 0xff bytes (NaN as bf16, f32 or f64; -1 as an integer), so a
// read of what was never written shows. Freed memory is kept inaccessible for a while (quarantine), so a use after
// free faults and can be named, and freeing it again is a double free.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace standin {

struct Allocation {
    uint64_t id = 0;
    uintptr_t base = 0;
    size_t size = 0;
    unsigned char* map = nullptr;  // lower guard page, data pages, upper guard page
    size_t map_bytes = 0;
    unsigned char* data = nullptr;  // the data pages
    size_t data_bytes = 0;
    bool host = false;              // page-locked host memory (cuMemHostAlloc), which kernels may also reach
    uint64_t allocated_after = 0;   // the launch count when it was allocated
    uint64_t freed_after = 0;       // and when it was freed
    std::string describe() const;   // "device allocation #7 (4096 bytes at 0x...)"
};

class DeviceMemory {
public:
    ~DeviceMemory();

    // Maps a new allocation of bytes (> 0); false when the host cannot map it.
    bool allocate(size_t bytes, bool host, uint64_t launches, uintptr_t& base);
    enum class FreeResult { Freed, DoubleFree, NotAllocated, WrongKind };
    FreeResult free(uintptr_t base, bool host, uint64_t launches, std::string& detail);

    // The live allocation that holds [address, address + bytes) (bytes may be 0: one past the end is inside).
    const Allocation* find(uintptr_t address, size_t bytes) const;
    // What an address is: inside or near which allocation (live or freed), or nowhere the stand-in allocated.
    std::string describe_address(uintptr_t address) const;
    // Checks every live allocation's canaries; false with a report of the first broken one (and restores them).
    bool check_canaries(std::string& report);
    // Frees everything (a context's teardown).
    void release_all();

    size_t device_bytes_in_use() const { return device_bytes_; }

private:
    static void fill_canaries(const Allocation& a);
    void evict_quarantine();

    std::map<uintptr_t, Allocation> live_;   // by base
    std::map<uintptr_t, Allocation> freed_;  // quarantined, by base
    std::deque<uintptr_t> freed_order_;
    size_t quarantine_bytes_ = 0;
    size_t device_bytes_ = 0;
    uint64_t next_id_ = 1;
};

}  // namespace standin
