// The stand-in's table of kernels: every extern "C" kernel of kernels/*.cu compiled for the emulator, with what a
// launch needs to call it. make_kernel_table.py writes one translation unit per kernel file that lists its kernels by
// name; their parameter lists come from the compiled functions' own types (Kernel<&f> below), so an argument array
// is unpacked with the kernel's real signature and nothing is written by hand.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace standin {

enum class ParamKind : uint8_t { Pointer, Integer, Float, Struct };

// One kernel parameter: its name and type as the source spells them, and what the compiler made of the type.
struct Param {
    const char* name;
    const char* type;
    ParamKind kind;
    uint16_t size;
};

// Runs a kernel body (one CUDA thread's call of the kernel with the unpacked arguments) over the launch's grid; false
// when the kernel faulted. Provided by the launcher for each launch.
using Executor = bool (*)(void* launch, const std::function<void()>& body);

struct KernelEntry {
    const char* name;
    const char* file;   // the kernel file, as kernels/ names it ("rows.cu")
    const Param* params;
    int param_count;
    // Copies the arguments out of a cuLaunchKernel argument array (one pointer per parameter) and runs the kernel.
    bool (*run)(void* const* arguments, Executor execute, void* launch);
};

struct KernelFile {
    const char* name;
    const KernelEntry* kernels;
    int count;
};

template <typename T>
constexpr ParamKind kind_of() {
    if constexpr (std::is_pointer_v<T>) return ParamKind::Pointer;
    else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) return ParamKind::Integer;
    else if constexpr (std::is_floating_point_v<T>) return ParamKind::Float;
    else return ParamKind::Struct;
}

template <typename T>
inline std::remove_cv_t<T> read_argument(void* slot) {
    std::remove_cv_t<T> value;
    std::memcpy(&value, slot, sizeof value);
    return value;
}

template <auto F>
struct Kernel;

template <typename... A, void (*F)(A...)>
struct Kernel<F> {
    static constexpr int arity = sizeof...(A);

    static bool run(void* const* arguments, Executor execute, void* launch) {
        return run_with(arguments, execute, launch, std::index_sequence_for<A...>{});
    }

    // names and types: arity entries each, from the kernel's declaration (make_kernel_table.py).
    static const Param* params(const char* const* names, const char* const* types) {
        static Param table[arity + 1];
        int i = 0;
        ((table[i] = Param{names[i], types[i], kind_of<A>(), (uint16_t)sizeof(A)}, ++i), ...);
        return table;
    }

private:
    template <size_t... I>
    static bool run_with(void* const* arguments, Executor execute, void* launch, std::index_sequence<I...>) {
        std::tuple<std::remove_cv_t<A>...> values{read_argument<A>(arguments[I])...};
        std::function<void()> body = [&values] { std::apply(F, values); };
        return execute(launch, body);
    }
};

// Every kernel file's table (written by make_kernel_table.py into kernel_files.cpp).
extern const KernelFile* const kernel_files[];
extern const int kernel_file_count;

}  // namespace standin
