// defines: PNN_HD, the marker for functions that run on the host and, under nvcc, on the device.
#pragma once

#if defined(__CUDACC__)
#define PNN_HD __host__ __device__
#else
#define PNN_HD
#endif

// Whether the shared functors are also evaluated on xsimd batches on the host. Not under nvcc:
// it instantiates every __host__ __device__ function for the device too, where a SIMD vector
// type is an error, so there the Cpu policy evaluates them one scalar at a time.
#if defined(__CUDACC__)
#define PNN_SIMD_FUNCTORS 0
#else
#define PNN_SIMD_FUNCTORS 1
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
