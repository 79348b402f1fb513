// defines: pnn's CPU kernel levels and their choice at run time: pnn::cpu_kernels() (the level in
// use), pnn::cpu_kernel_levels() (those this CPU has), pnn::use_cpu_kernels(level) (force one),
// and pnn::simd::dispatch(f), which runs a kernel compiled for the level in use.
//
// Levels, on x86-64 (elsewhere there is only generic):
//   generic   the x86-64 baseline (SSE2): 16-byte vectors, no FMA
//   avx2      x86-64-v3's AVX2 and FMA: 32-byte vectors
//   avx512    AVX-512 F, BW, DQ and VL: 64-byte vectors
// Every level is compiled into every program, whatever its -m flags: each has one entry point
// marked with the level's target attribute and `flatten`, which inlines the kernel and the
// functors it calls into it, so the kernel's vector arithmetic (pnn/simd/vec.hpp) becomes that
// level's instructions. The level is chosen once, at first use: the environment variable
// PNN_CPU=generic|avx2|avx512 if set, else the highest this CPU reports (cpuid, with the OS's
// consent to the wider registers, through __builtin_cpu_supports).
//
// Levels round differently (FMA or not, the order of vector sums): results are bit for bit the
// same for one level, not across levels. pnn::Mpi makes every rank use the same one.
#pragma once
#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "pnn/error.hpp"
#include "pnn/simd/vec.hpp"

// nvcc's front end parses host code too, and knows neither target nor flatten attributes in
// templates: under nvcc pnn's CPU kernels are built at the generic level only, in a namespace of
// their own, so that a program that mixes nvcc and g++ objects keeps two distinct definitions.
#if PNN_SIMD_X86 && !defined(__CUDACC__)
#define PNN_SIMD_LEVELS 1
#define PNN_SIMD_ABI levels
#else
#define PNN_SIMD_LEVELS 0
#define PNN_SIMD_ABI generic_only
#endif

namespace pnn {

enum class CpuKernels { generic = 0, avx2 = 1, avx512 = 2 };

inline std::string_view name_of(CpuKernels level) {
    switch (level) {
        case CpuKernels::avx2: return "avx2";
        case CpuKernels::avx512: return "avx512";
        default: return "generic";
    }
}

namespace simd {
inline namespace PNN_SIMD_ABI {

// The highest level this CPU (and its OS) supports.
inline CpuKernels highest_supported() {
#if PNN_SIMD_LEVELS
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return CpuKernels::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuKernels::avx2;
#endif
    return CpuKernels::generic;
}

inline std::string supported_list() {
    std::string s;
    for (int l = 0; l <= int(highest_supported()); ++l) s += (l ? ", " : "") + std::string(name_of(CpuKernels(l)));
    return s;
}

// A level by name only (not checked against this CPU), or -1 for an unknown name.
inline int level_named(std::string_view text) {
    for (int l = 0; l <= 2; ++l)
        if (text == name_of(CpuKernels(l))) return l;
    return -1;
}

// The level named by text, which `source` (PNN_CPU, use_cpu_kernels) gave; pnn::error for a
// name that is none.
inline CpuKernels known_level(std::string_view text, const char* source) {
    const int level = level_named(text);
    if (level < 0)
        pnn::detail::fail(source, ": expected generic, avx2 or avx512, found '", text, "' (this CPU has ",
                          supported_list(), ")");
    return CpuKernels(level);
}

// The level in use (-1: not chosen yet), and the one a program forced through
// use_cpu_kernels (-1: none).
inline std::atomic<int>& chosen() {
    static std::atomic<int> level{-1};
    return level;
}
inline std::atomic<int>& forced() {
    static std::atomic<int> level{-1};
    return level;
}

// The level asked for, by use_cpu_kernels or else PNN_CPU, or -1 where neither asks; not
// checked against this CPU (pnn::Mpi checks it against every rank's). An unknown name in
// PNN_CPU is a pnn::error.
inline int requested_level() {
    if (forced().load() >= 0) return forced().load();
    const char* env = std::getenv("PNN_CPU");
    if (!env || !*env) return -1;
    return int(known_level(env, "PNN_CPU"));
}

// The level in use; chosen at the first call: the one asked for (which this CPU must have),
// else the highest it has.
inline CpuKernels active() {
    int level = chosen().load(std::memory_order_relaxed);
    if (level < 0) {
        const int requested = requested_level();  // throws on a bad PNN_CPU, at every call
        if (requested > int(highest_supported()))
            pnn::detail::fail("PNN_CPU: this CPU lacks ", name_of(CpuKernels(requested)), "; it has ", supported_list());
        level = requested >= 0 ? requested : int(highest_supported());
        int expected = -1;
        if (!chosen().compare_exchange_strong(expected, level)) level = expected;
    }
    return CpuKernels(level);
}

// Vector widths of the levels, handed to kernels as a tag: f(width<Bytes>{}) runs the kernel on
// vec<T, Bytes>.
template <std::size_t Bytes>
struct width {
    template <class T>
    using vec = simd::vec<T, Bytes>;
};

template <class F>
__attribute__((flatten)) void run_generic(F& f) {
    f(width<16>{});
}
#if PNN_SIMD_LEVELS
template <class F>
__attribute__((target("avx2,fma"), flatten)) void run_avx2(F& f) {
    f(width<32>{});
}
template <class F>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"), flatten)) void run_avx512(F& f) {
    f(width<64>{});
}
#endif

// Runs f(width<Bytes>{}) compiled for the level in use. f is a generic lambda; everything it
// calls must be inline (templates), so that flatten can take it into the level's entry point.
template <class F>
void dispatch(F&& f) {
#if PNN_SIMD_LEVELS
    switch (active()) {
        case CpuKernels::avx512: return run_avx512(f);
        case CpuKernels::avx2: return run_avx2(f);
        default: break;
    }
#endif
    run_generic(f);
}

}  // namespace PNN_SIMD_ABI
}  // namespace simd

// The level pnn's CPU kernels use: "generic", "avx2" or "avx512". The first call chooses it
// (PNN_CPU, else the highest this CPU has) and throws pnn::error for a bad PNN_CPU.
inline std::string_view cpu_kernels() { return name_of(simd::active()); }

// Every level this CPU has, lowest first.
inline std::vector<CpuKernels> cpu_kernel_levels() {
    std::vector<CpuKernels> levels;
    for (int l = 0; l <= int(simd::highest_supported()); ++l) levels.push_back(CpuKernels(l));
    return levels;
}

// Makes every later kernel call use this level (over PNN_CPU); pnn::error if this CPU lacks it.
// Under pnn::Mpi, force it before the communicator is made: the ranks agree on a level then.
inline void use_cpu_kernels(CpuKernels level) {
    if (int(level) > int(simd::highest_supported()))
        detail::fail("use_cpu_kernels: this CPU lacks ", name_of(level), "; it has ", simd::supported_list());
    simd::forced().store(int(level));
    simd::chosen().store(int(level));
}
inline void use_cpu_kernels(std::string_view level) { use_cpu_kernels(simd::known_level(level, "use_cpu_kernels")); }

}  // namespace pnn
