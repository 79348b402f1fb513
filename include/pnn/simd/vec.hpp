// defines: pnn::simd::vec<T, Bytes>, pnn's own small SIMD vector: Bytes / sizeof(T) lanes of
// float or double, with the arithmetic the shared functors (pnn/nn/functions.hpp) and the CPU
// kernels use.
//
// One type for every instruction set. The arithmetic is GCC/clang vector extensions, which the
// compiler lowers to whatever the *function they end up in* may use: a kernel entry point marked
// for AVX-512 (pnn/simd/level.hpp) gets zmm instructions, the same code in a baseline entry
// point gets SSE2. So no function here carries a target attribute, and a binary built with no
// -m flag holds all levels. Only fma() needs instructions by name: it has one overload per width,
// marked for the instruction set that width belongs to.
//
// The vector is stored with an int beside it, which puts the struct in the ABI's MEMORY class for
// every instruction set: a struct of just a 32- or 64-byte vector is passed in registers by
// functions compiled for AVX and in memory by those that are not, so a call between the two
// (which happens when nothing is inlined, at -O0) would read garbage (seen here: g++ 12 -O0
// returned 0 for 21). Once inlined (-O1 and up) the int vanishes and the vector lives in a
// register. No function takes or returns the compiler's vector type by value either (g++ notes
// "the ABI for passing parameters with 64-byte alignment has changed" for each one otherwise).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "pnn/config.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PNN_SIMD_X86 1
#else
#define PNN_SIMD_X86 0
#endif

// g++ warns, for a function that returns a 32- or 64-byte vector, that its ABI differs with and
// without AVX; these functions are always inlined and have no ABI.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace pnn::simd {

template <class T, std::size_t Bytes>
struct vec {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "vec holds float or double lanes");
    static constexpr std::size_t size = Bytes / sizeof(T);
    using value_type = T;
    // the compiler's vector types, for the arithmetic: floating lanes and same-width integers
    using lane_int = std::conditional_t<sizeof(T) == 8, std::int64_t, std::int32_t>;
    typedef T native __attribute__((vector_size(Bytes)));
    typedef lane_int bits __attribute__((vector_size(Bytes)));

#if defined(__CUDACC__)
    // nvcc refuses a type with a vector member wherever its host-device functors could see it:
    // there the lanes are an array (nvcc builds only the 16-byte level).
    T lanes_[size];
    PNN_SIMD_INLINE native get() const {
        native v;
        std::memcpy(&v, lanes_, Bytes);
        return v;
    }
    PNN_SIMD_INLINE void set(const native& v) { std::memcpy(lanes_, &v, Bytes); }
    PNN_SIMD_INLINE void* bytes() { return lanes_; }
    PNN_SIMD_INLINE const void* bytes() const { return lanes_; }
#else
    native r;
    PNN_SIMD_INLINE const native& get() const { return r; }
    PNN_SIMD_INLINE void set(const native& v) { r = v; }
    PNN_SIMD_INLINE void* bytes() { return &r; }
    PNN_SIMD_INLINE const void* bytes() const { return &r; }
#endif
    int memory_abi = 0;  // see above

    vec() = default;
    // Every lane s. Written 0 + s (one scalar add, which the compiler hoists with the broadcast):
    // as s - 0 (s exactly, so folded to a bare {s, s, ...}) g++ 12 lowers the broadcast of a
    // functor's scalar in code of no level, and a level's loop then rebuilt it through the stack
    // on every step (seen: the update's pass at a tenth of its speed).
    PNN_SIMD_INLINE explicit vec(T s) { set(native{} + s); }
    // Every lane *p, for an element loaded inside a kernel's loop: there s - 0 is a bare load and
    // broadcast, where 0 + s cost an add before each one (measured in gemm_tn).
    PNN_SIMD_INLINE static vec broadcast(const T* p) { return vec(*p - native{}); }
    PNN_SIMD_INLINE explicit vec(const native& v) { set(v); }

    PNN_SIMD_INLINE static vec load(const T* p) {
        vec v;
        std::memcpy(v.bytes(), p, Bytes);
        return v;
    }
    PNN_SIMD_INLINE void store(T* p) const { std::memcpy(p, bytes(), Bytes); }
    PNN_SIMD_INLINE T operator[](std::size_t i) const { return get()[i]; }

    PNN_SIMD_INLINE static vec from(const native& v) { return vec(v); }
    PNN_SIMD_INLINE bits get_bits() const {
        bits b;
        std::memcpy(&b, bytes(), Bytes);
        return b;
    }
    PNN_SIMD_INLINE static vec from_bits(const bits& b) {
        vec v;
        std::memcpy(v.bytes(), &b, Bytes);
        return v;
    }

    friend PNN_SIMD_INLINE vec operator+(const vec& a, const vec& b) { return vec(a.get() + b.get()); }
    friend PNN_SIMD_INLINE vec operator-(const vec& a, const vec& b) { return vec(a.get() - b.get()); }
    friend PNN_SIMD_INLINE vec operator*(const vec& a, const vec& b) { return vec(a.get() * b.get()); }
    friend PNN_SIMD_INLINE vec operator/(const vec& a, const vec& b) { return vec(a.get() / b.get()); }
    friend PNN_SIMD_INLINE vec operator-(const vec& a) { return vec(-a.get()); }
    PNN_SIMD_INLINE vec& operator+=(const vec& b) {
        set(get() + b.get());
        return *this;
    }

    // max(a, b) lane by lane (b where a is NaN, as std::max(b, a) would not: only used with b = 0)
    friend PNN_SIMD_INLINE vec max(const vec& a, const vec& b) { return vec(a.get() > b.get() ? a.get() : b.get()); }
    // x where a < b, else y, lane by lane (a comparison with NaN is false: y). ReLU's forward
    // and backward step (pnn/nn/functions.hpp) are written with it.
    friend PNN_SIMD_INLINE vec where_less(const vec& a, const vec& b, const vec& x, const vec& y) {
        return vec(a.get() < b.get() ? x.get() : y.get());
    }
    friend PNN_SIMD_INLINE vec abs(const vec& a) { return from_bits(a.get_bits() & std::numeric_limits<lane_int>::max()); }
    // The lanes' sum in double, in lane order (a fixed order: the same bits on every run).
    friend PNN_SIMD_INLINE double sum_lanes(const vec& a) {
        double s = 0;
        for (std::size_t i = 0; i < size; ++i) s += double(a[i]);
        return s;
    }
    // The lanes' sum in T, as a tree: the upper half added to the lower until 16 bytes are left
    // (a fixed order too; log2 of the lanes in steps instead of one add per lane).
    friend PNN_SIMD_INLINE T reduce_add(const vec& a) {
        if constexpr (Bytes > 16) {
            vec<T, Bytes / 2> lo, hi;
            std::memcpy(lo.bytes(), a.bytes(), Bytes / 2);
            std::memcpy(hi.bytes(), static_cast<const char*>(a.bytes()) + Bytes / 2, Bytes / 2);
            return reduce_add(lo + hi);
        } else if constexpr (size == 4) {
            return (a[0] + a[2]) + (a[1] + a[3]);
        } else {
            return a[0] + a[1];
        }
    }
};

// a b + c. Fused (one rounding) where the width's instruction set has FMA; the 16-byte width is
// the x86-64 baseline (SSE2), which has none, and rounds twice. The wider ones are marked for
// their instruction set, so they cannot be always inlined into code that is not; they take and
// return the struct (MEMORY class, the same ABI for every caller), and flatten takes them into
// the kernels of their level.
template <class T>
vec<T, 16> fma(const vec<T, 16>& a, const vec<T, 16>& b, const vec<T, 16>& c) {
    return a * b + c;
}
#if PNN_SIMD_X86 && !defined(__CUDACC__)
template <class T>
__attribute__((target("avx2,fma"))) vec<T, 32> fma(const vec<T, 32>& a, const vec<T, 32>& b, const vec<T, 32>& c) {
    if constexpr (sizeof(T) == 8) return vec<T, 32>(_mm256_fmadd_pd(a.r, b.r, c.r));
    else return vec<T, 32>(_mm256_fmadd_ps(a.r, b.r, c.r));
}
template <class T>
__attribute__((target("avx512f"))) vec<T, 64> fma(const vec<T, 64>& a, const vec<T, 64>& b, const vec<T, 64>& c) {
    if constexpr (sizeof(T) == 8) return vec<T, 64>(_mm512_fmadd_pd(a.r, b.r, c.r));
    else return vec<T, 64>(_mm512_fmadd_ps(a.r, b.r, c.r));
}
#endif

// Every lane *p, through the instruction set's broadcast load, for a kernel's inner loop; the
// tag says the width: splat(p, std::type_identity<V>{}). (vec::broadcast's *p - native{} serves
// the elementwise kernels, but in gemm's broadcast tile, pnn/device/cpu_gemm.hpp, g++ 12 built
// the 32-byte float one from a scalar load and seven vinsertps, at a sixth of the speed.)
template <class T>
vec<T, 16> splat(const T* p, std::type_identity<vec<T, 16>>) {
    return vec<T, 16>::broadcast(p);
}
#if PNN_SIMD_X86 && !defined(__CUDACC__)
template <class T>
__attribute__((target("avx2,fma"))) vec<T, 32> splat(const T* p, std::type_identity<vec<T, 32>>) {
    if constexpr (sizeof(T) == 8) return vec<T, 32>(_mm256_broadcast_sd(p));
    else return vec<T, 32>(_mm256_broadcast_ss(p));
}
template <class T>
__attribute__((target("avx512f"))) vec<T, 64> splat(const T* p, std::type_identity<vec<T, 64>>) {
    if constexpr (sizeof(T) == 8) return vec<T, 64>(_mm512_set1_pd(*p));
    else return vec<T, 64>(_mm512_set1_ps(*p));
}
#endif

// √a, lane by lane, correctly rounded (IEEE): the same bits at every level and as std::sqrt.
// Like fma, one overload per width, each marked for its instruction set.
template <class T>
vec<T, 16> sqrt(const vec<T, 16>& a) {
#if PNN_SIMD_X86 && !defined(__CUDACC__)
    if constexpr (sizeof(T) == 8) return vec<T, 16>(_mm_sqrt_pd(a.r));
    else return vec<T, 16>(_mm_sqrt_ps(a.r));
#else
    T lanes[vec<T, 16>::size];
    a.store(lanes);
    for (T& x : lanes) {
        if constexpr (sizeof(T) == 8) x = __builtin_sqrt(x);
        else x = __builtin_sqrtf(x);
    }
    return vec<T, 16>::load(lanes);
#endif
}
#if PNN_SIMD_X86 && !defined(__CUDACC__)
template <class T>
__attribute__((target("avx2,fma"))) vec<T, 32> sqrt(const vec<T, 32>& a) {
    if constexpr (sizeof(T) == 8) return vec<T, 32>(_mm256_sqrt_pd(a.r));
    else return vec<T, 32>(_mm256_sqrt_ps(a.r));
}
template <class T>
__attribute__((target("avx512f"))) vec<T, 64> sqrt(const vec<T, 64>& a) {
    // (the zero-masked forms with every lane on: the plain ones start from g++ 12's
    // _mm512_undefined_*, which -Wmaybe-uninitialized reports at every use)
    if constexpr (sizeof(T) == 8) return vec<T, 64>(_mm512_maskz_sqrt_pd(__mmask8(0xFF), a.r));
    else return vec<T, 64>(_mm512_maskz_sqrt_ps(__mmask16(0xFFFF), a.r));
}
#endif

}  // namespace pnn::simd

#pragma GCC diagnostic pop
