// defines: PNN_SIMD_KERNEL, the marker for the code a CPU kernel level inlines (the kernels and
// the vector math: pnn/simd, pnn/device/cpu_gemm.hpp); PNN_HD, the one for the functors that run
// there too and, under nvcc, on the device (pnn/nn/functions.hpp); PNN_SIMD_INLINE, for the
// vector layer's tiny operations, always inlined.
#pragma once

#define PNN_SIMD_INLINE inline __attribute__((always_inline))

// g++'s flatten on a level's entry point (pnn/simd/level.hpp) inlines the kernels, the math and
// the functors under it; always_inline would make g++ inline them early into code of no level,
// where fma() is then left a call (seen: 2.3x the time of an iteration). clang's flatten inlines
// only the calls written in the entry point itself, so under clang they are always inlined, down
// to the level's fma(), which clang then inlines into the entry point (without it the seed's
// forward product ran at 1 GFLOP/s under clang 14).
#if defined(__clang__)
#define PNN_SIMD_KERNEL PNN_SIMD_INLINE
#else
#define PNN_SIMD_KERNEL inline
#endif

#if defined(__CUDACC__)
#define PNN_HD __host__ __device__
#else
#define PNN_HD PNN_SIMD_KERNEL
#endif

// PNN_HD_ANY_TYPE, before a PNN_HD function template: its instantiations decide where they can
// run. The Cpu policy instantiates the functors with pnn::simd::vec, whose operations are host
// functions; in a .cu that builds the Cpu path too, nvcc warned (#20011-D, #20014-D) that a
// __host__ __device__ function called them, though those instantiations never run on the
// device (a kernel that called one would still fail to compile: "undefined in device code").
#if defined(__CUDACC__)
#define PNN_HD_ANY_TYPE PNN_PRAGMA(nv_exec_check_disable)
#else
#define PNN_HD_ANY_TYPE
#endif

// PNN_UNROLL(n): ask the compiler to unroll the next loop n times (a hint; nvcc's front end does
// not know the GCC pragma, and gets none).
#define PNN_PRAGMA(x) _Pragma(#x)
#if defined(__CUDACC__)
#define PNN_UNROLL(n)
#elif defined(__clang__)
#define PNN_UNROLL(n) PNN_PRAGMA(unroll n)
#else
#define PNN_UNROLL(n) PNN_PRAGMA(GCC unroll n)
#endif

namespace pnn::detail {
// Unsigned 128-bit integers, for products of sizes that must not wrap (g++ and clang have them;
// __extension__ says that pnn uses them knowingly, for -Wpedantic).
__extension__ typedef unsigned __int128 uint128;
}  // namespace pnn::detail
