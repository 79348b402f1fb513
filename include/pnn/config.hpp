// defines: PNN_HD, the marker for functions that run on the host and, under nvcc, on the device.
#pragma once

#if defined(__CUDACC__)
#define PNN_HD __host__ __device__
#else
#define PNN_HD
#endif
