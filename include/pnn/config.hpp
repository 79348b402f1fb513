// defines: PNN_HD, the marker for the functors that run on the host and, under nvcc, on the device.
#pragma once

// Under clang the functors are also always inlined: they run inside the CPU kernels of a level,
// and clang's flatten would leave them (and the fused multiply-adds inside) calls (see
// PNN_SIMD_KERNEL in pnn/simd/vec.hpp).
#if defined(__CUDACC__)
#define PNN_HD __host__ __device__
#elif defined(__clang__)
#define PNN_HD inline __attribute__((always_inline))
#else
#define PNN_HD
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
