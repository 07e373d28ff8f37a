#include "device_memory.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace standin {
namespace {

constexpr size_t kAlignment = 256;         // cuMemAlloc's alignment
constexpr unsigned char kCanary = 0xcb;
constexpr unsigned char kFresh = 0xff;
// Freed allocations stay mapped (inaccessible, their pages given back) until this many or this much address space.
constexpr size_t kQuarantineCount = 4096;
constexpr size_t kQuarantineBytes = size_t(64) << 30;

size_t page_size() {
    static const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

std::string hex(uintptr_t p) {
    char text[32];
    snprintf(text, sizeof text, "0x%" PRIxPTR, p);
    return text;
}

}  // namespace

std::string Allocation::describe() const {
    return std::string(host ? "pinned host allocation #" : "device allocation #") + std::to_string(id) + " (" +
           std::to_string(size) + " bytes at " + hex(base) + ")";
}

DeviceMemory::~DeviceMemory() { release_all(); }

bool DeviceMemory::allocate(size_t bytes, bool host, uint64_t launches, uintptr_t& base) {
    const size_t page = page_size();
    size_t data_bytes = round_up(round_up(bytes, kAlignment), page);
    size_t map_bytes = data_bytes + 2 * page;
    if (data_bytes < bytes) return false;  // overflow
    // Without MAP_NORESERVE: an allocation the host cannot back fails here (out of memory), not at first touch.
    void* map = mmap(nullptr, map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return false;
    unsigned char* data = (unsigned char*)map + page;
    if (mprotect(data, data_bytes, PROT_READ | PROT_WRITE) != 0) {
        munmap(map, map_bytes);
        return false;
    }
    Allocation a;
    a.id = next_id_++;
    a.size = bytes;
    a.base = (uintptr_t)(data + data_bytes - round_up(bytes, kAlignment));
    a.map = (unsigned char*)map;
    a.map_bytes = map_bytes;
    a.data = data;
    a.data_bytes = data_bytes;
    a.host = host;
    a.allocated_after = launches;
    std::memset((void*)a.base, kFresh, bytes);
    fill_canaries(a);
    live_[a.base] = a;
    if (!host) device_bytes_ += data_bytes;
    base = a.base;
    return true;
}

DeviceMemory::FreeResult DeviceMemory::free(uintptr_t base, bool host, uint64_t launches, std::string& detail) {
    auto it = live_.find(base);
    if (it == live_.end()) {
        auto freed = freed_.find(base);
        if (freed != freed_.end()) {
            detail = freed->second.describe() + ", freed after launch #" + std::to_string(freed->second.freed_after);
            return FreeResult::DoubleFree;
        }
        detail = describe_address(base);
        return FreeResult::NotAllocated;
    }
    Allocation a = it->second;
    if (a.host != host) {
        detail = a.describe();
        return FreeResult::WrongKind;
    }
    live_.erase(it);
    if (!host) device_bytes_ -= a.data_bytes;
    // Give the pages back and make them inaccessible: a later access faults and is named as a use after free.
    madvise(a.data, a.data_bytes, MADV_DONTNEED);
    mprotect(a.data, a.data_bytes, PROT_NONE);
    a.freed_after = launches;
    freed_[a.base] = a;
    freed_order_.push_back(a.base);
    quarantine_bytes_ += a.map_bytes;
    evict_quarantine();
    return FreeResult::Freed;
}

void DeviceMemory::evict_quarantine() {
    while (!freed_order_.empty() && (freed_order_.size() > kQuarantineCount || quarantine_bytes_ > kQuarantineBytes)) {
        auto it = freed_.find(freed_order_.front());
        freed_order_.pop_front();
        if (it == freed_.end()) continue;
        munmap(it->second.map, it->second.map_bytes);
        quarantine_bytes_ -= it->second.map_bytes;
        freed_.erase(it);
    }
}

const Allocation* DeviceMemory::find(uintptr_t address, size_t bytes) const {
    auto it = live_.upper_bound(address);
    if (it == live_.begin()) return nullptr;
    --it;
    const Allocation& a = it->second;
    if (address < a.base || address - a.base > a.size || bytes > a.size - (address - a.base)) return nullptr;
    return &a;
}

std::string DeviceMemory::describe_address(uintptr_t address) const {
    auto near = [&](const std::map<uintptr_t, Allocation>& in, bool freed) -> std::string {
        for (auto& [base, a] : in) {
            uintptr_t lo = (uintptr_t)a.map, hi = lo + a.map_bytes;
            if (address < lo || address >= hi) continue;
            std::string what = a.describe() + (freed ? ", freed after launch #" + std::to_string(a.freed_after) : "");
            if (freed) return hex(address) + " is inside " + what + ": a use after free";
            if (address < a.base) return hex(address) + " is " + std::to_string(a.base - address) + " bytes before the start of " + what;
            if (address >= a.base + a.size)
                return hex(address) + " is " + std::to_string(address - (a.base + a.size)) + " bytes past the end of " + what;
            return hex(address) + " is inside " + what;
        }
        return "";
    };
    std::string found = near(live_, false);
    if (found.empty()) found = near(freed_, true);
    return found.empty() ? hex(address) + " is not memory the stand-in allocated" : found;
}

void DeviceMemory::fill_canaries(const Allocation& a) {
    std::memset(a.data, kCanary, a.base - (uintptr_t)a.data);
    uintptr_t end = a.base + a.size;
    std::memset((void*)end, kCanary, (uintptr_t)a.data + a.data_bytes - end);
}

bool DeviceMemory::check_canaries(std::string& report) {
    static unsigned char canaries[1 << 16];
    if (canaries[0] != kCanary) std::memset(canaries, kCanary, sizeof canaries);
    auto intact = [&](const unsigned char* from, size_t n) {
        for (size_t done = 0; done < n; done += sizeof canaries)
            if (std::memcmp(from + done, canaries, std::min(sizeof canaries, n - done)) != 0) return false;
        return true;
    };
    for (auto& [base, a] : live_) {
        size_t below = a.base - (uintptr_t)a.data;
        uintptr_t end = a.base + a.size;
        size_t above = (uintptr_t)a.data + a.data_bytes - end;
        if (intact(a.data, below) && intact((const unsigned char*)end, above)) continue;
        auto broken = [&](const unsigned char* from, size_t n) -> long {
            for (size_t i = 0; i < n; ++i)
                if (from[i] != kCanary) return (long)i;
            return -1;
        };
        // The bytes nearest the allocation first: an overrun starts there.
        long after = broken((const unsigned char*)end, above);
        long before = -1;
        for (size_t i = below; i-- > 0;)
            if (a.data[i] != kCanary) { before = (long)(below - i); break; }
        if (after < 0 && before < 0) continue;
        report = "wrote outside " + a.describe() + ": ";
        if (after >= 0) report += "the byte at its end + " + std::to_string(after) + " was changed";
        if (after >= 0 && before >= 0) report += ", and ";
        if (before >= 0) report += "the byte at its start - " + std::to_string(before) + " was changed";
        fill_canaries(a);
        return false;
    }
    return true;
}

void DeviceMemory::release_all() {
    for (auto& [base, a] : live_) munmap(a.map, a.map_bytes);
    for (auto& [base, a] : freed_) munmap(a.map, a.map_bytes);
    live_.clear();
    freed_.clear();
    freed_order_.clear();
    quarantine_bytes_ = 0;
    device_bytes_ = 0;
}

}  // namespace standin
