#include "module_image.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <regex>

namespace standin {
namespace {

// ELF64 as laid out in a CUBIN (EM_CUDA = 190).
struct Elf64Header {
    unsigned char ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Elf64Section {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t addralign, entsize;
};
struct Elf64Symbol {
    uint32_t name;
    unsigned char info, other;
    uint16_t shndx;
    uint64_t value, size;
};
constexpr uint16_t kEmCuda = 190;
constexpr uint32_t kSymtab = 2;

// .nv.info records: a format byte, an attribute byte, then a 16-bit value (format 3) or a 16-bit size and that many
// bytes (format 4).
constexpr uint8_t kFormatHalf = 3, kFormatSized = 4;
constexpr uint8_t kAttrMaxThreads = 0x05, kAttrFrameSize = 0x11, kAttrKparamInfo = 0x17, kAttrRegCount = 0x2f;
// sm_80 and later reserve 1 KiB of shared memory per block for the system; NVRTC's .nv.shared sections include it.
constexpr int kReservedShared = 1024;

template <typename F>
bool each_record(const unsigned char* p, size_t size, F f) {
    size_t i = 0;
    while (i + 4 <= size) {
        uint8_t format = p[i], attribute = p[i + 1];
        uint16_t half;
        std::memcpy(&half, p + i + 2, 2);
        if (format == kFormatSized) {
            if (i + 4 + half > size) return false;
            f(attribute, p + i + 4, (size_t)half);
            i += 4 + half;
        } else {
            if (format == kFormatHalf) f(attribute, p + i + 2, (size_t)2);
            i += 4;
        }
    }
    return i == size;
}

uint32_t u32(const unsigned char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint16_t u16(const unsigned char* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }

bool read_cubin(const unsigned char* image, ModuleImage& module, std::string& error) {
    Elf64Header h;
    std::memcpy(&h, image, sizeof h);
    if (h.ident[4] != 2 || h.ident[5] != 1) { error = "not a 64-bit little-endian ELF file"; return false; }
    if (h.machine != kEmCuda) { error = "an ELF file for machine " + std::to_string(h.machine) + ", not a CUDA CUBIN (190)"; return false; }
    if (h.shentsize != sizeof(Elf64Section) || h.shnum == 0 || h.shstrndx >= h.shnum) { error = "malformed ELF section table"; return false; }
    // A CUBIN carries no length: its section headers come last, and every section must lie before their end.
    const size_t end = h.shoff + (size_t)h.shnum * h.shentsize;
    std::vector<Elf64Section> sections(h.shnum);
    std::memcpy(sections.data(), image + h.shoff, end - h.shoff);
    for (auto& s : sections)
        if (s.type != 8 /* NOBITS */ && s.offset + s.size > end) { error = "an ELF section lies outside the image"; return false; }
    const char* names = (const char*)image + sections[h.shstrndx].offset;
    auto section_name = [&](const Elf64Section& s) { return std::string(names + s.name); };

    module.arch = (int)(h.flags & 0xff);
    module.format = "CUBIN for sm_" + std::to_string(module.arch);

    // Kernels: global functions with a .text.NAME section.
    std::map<std::string, size_t> by_name;
    std::vector<std::string> symbol_names;
    for (auto& s : sections) {
        if (s.type != kSymtab) continue;
        const char* strings = (const char*)image + sections[s.link].offset;
        size_t count = s.size / sizeof(Elf64Symbol);
        symbol_names.assign(count, "");
        for (size_t i = 0; i < count; ++i) {
            Elf64Symbol sym;
            std::memcpy(&sym, image + s.offset + i * sizeof sym, sizeof sym);
            symbol_names[i] = strings + sym.name;
            bool global_function = (sym.info & 0xf) == 2 && (sym.info >> 4) == 1;
            if (global_function && sym.shndx < sections.size() && section_name(sections[sym.shndx]) == ".text." + symbol_names[i]) {
                by_name[symbol_names[i]] = module.kernels.size();
                ImageKernel k;
                k.name = symbol_names[i];
                module.kernels.push_back(k);
            }
        }
    }
    auto kernel_named = [&](const std::string& name) -> ImageKernel* {
        auto it = by_name.find(name);
        return it == by_name.end() ? nullptr : &module.kernels[it->second];
    };
    for (auto& s : sections) {
        std::string name = section_name(s);
        const unsigned char* data = image + s.offset;
        if (name == ".nv.info") {
            // Per-function records keyed by symbol index: registers and the stack frame.
            bool ok = each_record(data, s.size, [&](uint8_t attribute, const unsigned char* v, size_t size) {
                if (size != 8 || (attribute != kAttrRegCount && attribute != kAttrFrameSize)) return;
                uint32_t symbol = u32(v);
                ImageKernel* k = symbol < symbol_names.size() ? kernel_named(symbol_names[symbol]) : nullptr;
                if (!k) return;
                if (attribute == kAttrRegCount) k->registers = (int)u32(v + 4);
                else k->local_bytes = (int)u32(v + 4);
            });
            if (!ok) { error = "malformed .nv.info section"; return false; }
        } else if (name.rfind(".nv.info.", 0) == 0) {
            ImageKernel* k = kernel_named(name.substr(9));
            if (!k) continue;
            bool ok = each_record(data, s.size, [&](uint8_t attribute, const unsigned char* v, size_t size) {
                if (attribute == kAttrKparamInfo && size == 12) {
                    // index (4 bytes), ordinal (2), offset (2), flags whose top 14 bits are the size.
                    int ordinal = u16(v + 4), offset = u16(v + 6), bytes = (int)(u32(v + 8) >> 18);
                    if ((int)k->params.size() <= ordinal) k->params.resize(ordinal + 1, ImageParam{-1, 0});
                    k->params[ordinal] = {offset, bytes};
                    k->params_known = true;
                } else if (attribute == kAttrMaxThreads && size == 12) {
                    k->max_threads = (int)(u32(v) * u32(v + 4) * u32(v + 8));
                }
            });
            if (!ok) { error = "malformed " + name + " section"; return false; }
        } else if (name.rfind(".nv.shared.", 0) == 0) {
            if (ImageKernel* k = kernel_named(name.substr(11)))
                k->static_shared = (int)s.size - (module.arch >= 80 && s.size >= (uint64_t)kReservedShared ? kReservedShared : 0);
        }
    }
    // A kernel with no parameters has no KPARAM_INFO record: its list is known to be empty.
    for (auto& k : module.kernels) {
        for (auto& p : k.params)
            if (p.offset < 0) { error = "kernel " + k.name + ": a parameter is missing from its .nv.info"; return false; }
        k.params_known = true;
    }
    return true;
}

int ptx_type_size(const std::string& type) {
    // .u8 .s16 .b32 .f64 ...: the digits are the width in bits.
    size_t digits = type.find_first_of("0123456789");
    return digits == std::string::npos ? 0 : std::stoi(type.substr(digits)) / 8;
}

bool read_ptx(const char* text, ModuleImage& module, std::string& error) {
    std::string ptx(text);
    std::smatch m;
    if (std::regex_search(ptx, m, std::regex(R"(\.target\s+sm_(\d+))"))) module.arch = std::stoi(m[1]);
    module.ptx = true;
    module.format = "PTX for sm_" + std::to_string(module.arch);
    static const std::regex entry(R"(\.entry\s+(\w+)\s*\(([^)]*)\)([^{]*)\{)");
    static const std::regex vector_param(R"(\.param\s+\.align\s+(\d+)\s+\.b8\s+\w+\[(\d+)\])");
    static const std::regex scalar_param(R"(\.param\s+(\.\w+)\s+\w+)");
    static const std::regex maxntid(R"(\.maxntid\s+(\d+)(?:\s*,\s*(\d+))?(?:\s*,\s*(\d+))?)");
    for (auto it = std::sregex_iterator(ptx.begin(), ptx.end(), entry); it != std::sregex_iterator(); ++it) {
        ImageKernel k;
        k.name = (*it)[1];
        std::string params = (*it)[2], directives = (*it)[3];
        int offset = 0;
        size_t start = 0;
        while (start < params.size()) {
            size_t comma = params.find(',', start);
            std::string p = params.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            start = comma == std::string::npos ? params.size() : comma + 1;
            if (p.find(".param") == std::string::npos) continue;
            int size, align;
            if (std::regex_search(p, m, vector_param)) { align = std::stoi(m[1]); size = std::stoi(m[2]); }
            else if (std::regex_search(p, m, scalar_param)) { size = align = ptx_type_size(m[1]); }
            else { error = "kernel " + k.name + ": a PTX parameter the stand-in cannot read: " + p; return false; }
            offset = (offset + align - 1) / align * align;
            k.params.push_back({offset, size});
            offset += size;
        }
        k.params_known = true;
        if (std::regex_search(directives, m, maxntid))
            k.max_threads = std::stoi(m[1]) * (m[2].matched ? std::stoi(m[2]) : 1) * (m[3].matched ? std::stoi(m[3]) : 1);
        module.kernels.push_back(k);
    }
    if (module.kernels.empty()) { error = "PTX with no .entry"; return false; }
    return true;
}

}  // namespace

bool read_module_image(const void* image, ModuleImage& module, std::string& error) {
    const unsigned char* bytes = (const unsigned char*)image;
    if (!bytes) { error = "no image"; return false; }
    if (std::memcmp(bytes, "\x7f" "ELF", 4) == 0) return read_cubin(bytes, module, error);
    uint32_t magic;
    std::memcpy(&magic, bytes, 4);
    if (magic == 0xBA55ED50u || magic == 0x466243B1u) {
        error = "a fatbin container: the stand-in reads CUBIN and PTX images (NVRTC's output), not nvcc's fatbins; "
                "unset COAR_KERNEL_FATBIN to run on it";
        return false;
    }
    const char* text = (const char*)image;
    if (std::strstr(text, ".entry") && (std::strstr(text, ".version") || std::strstr(text, ".target")))
        return read_ptx(text, module, error);
    error = "neither a CUBIN (ELF) nor PTX";
    return false;
}

}  // namespace standin
