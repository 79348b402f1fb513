// defines: PNN_HD, the marker for functions that run on the host and, under nvcc, on the device.
#pragma once

#if defined(__CUDACC__)
#define PNN_HD __host__ __device__
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
