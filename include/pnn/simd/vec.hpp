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
// The lanes are stored as a plain array, not as the vector type: a struct of a 32- or 64-byte
// vector is passed in registers by functions compiled for AVX and in memory by those that are
// not, so a call between the two (which happens when nothing is inlined, at -O0) would read
// garbage (seen here: g++ 12 -O0 returned 0 for 21). An array is passed in memory by every
// function; once inlined (-O1 and up) the copies vanish and the values live in registers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PNN_SIMD_X86 1
#else
#define PNN_SIMD_X86 0
#endif

// Members that handle the compiler's vector types by value are always inlined: never called,
// they cross no function boundary, where a 32- or 64-byte vector's ABI would depend on the
// function's instruction set (and g++ warns of it).
#define PNN_SIMD_INLINE inline __attribute__((always_inline))

// g++ notes, for every function that returns a 32- or 64-byte vector, that its ABI differs with
// and without AVX; these functions are always inlined and have no ABI. (The note is given where
// the function is declared, so the push/pop around this file is enough.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace pnn::simd {

template <class T, std::size_t Bytes>
struct alignas(Bytes) vec {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "vec holds float or double lanes");
    static constexpr std::size_t size = Bytes / sizeof(T);
    using value_type = T;
    // the compiler's vector types, for the arithmetic: floating lanes and same-width integers
    using lane_int = std::conditional_t<sizeof(T) == 8, std::int64_t, std::int32_t>;
    typedef T native __attribute__((vector_size(Bytes)));
    typedef lane_int bits __attribute__((vector_size(Bytes)));

    T lane[size];

    vec() = default;
    PNN_SIMD_INLINE explicit vec(T s) { *this = from(native{} + s); }

    PNN_SIMD_INLINE static vec load(const T* p) {
        vec v;
        std::memcpy(v.lane, p, Bytes);
        return v;
    }
    PNN_SIMD_INLINE void store(T* p) const { std::memcpy(p, lane, Bytes); }

    PNN_SIMD_INLINE native get() const {
        native r;
        std::memcpy(&r, lane, Bytes);
        return r;
    }
    PNN_SIMD_INLINE static vec from(native r) {
        vec v;
        std::memcpy(v.lane, &r, Bytes);
        return v;
    }
    PNN_SIMD_INLINE bits get_bits() const {
        bits r;
        std::memcpy(&r, lane, Bytes);
        return r;
    }
    PNN_SIMD_INLINE static vec from_bits(bits r) {
        vec v;
        std::memcpy(v.lane, &r, Bytes);
        return v;
    }

    friend PNN_SIMD_INLINE vec operator+(const vec& a, const vec& b) { return from(a.get() + b.get()); }
    friend PNN_SIMD_INLINE vec operator-(const vec& a, const vec& b) { return from(a.get() - b.get()); }
    friend PNN_SIMD_INLINE vec operator*(const vec& a, const vec& b) { return from(a.get() * b.get()); }
    friend PNN_SIMD_INLINE vec operator/(const vec& a, const vec& b) { return from(a.get() / b.get()); }
    friend PNN_SIMD_INLINE vec operator-(const vec& a) { return from(-a.get()); }
    PNN_SIMD_INLINE vec& operator+=(const vec& b) { return *this = *this + b; }

    // max(a, b) lane by lane (b where a is NaN, as std::max(b, a) would not: only used with b = 0)
    friend PNN_SIMD_INLINE vec max(const vec& a, const vec& b) {
        const native x = a.get(), y = b.get();
        return from(x > y ? x : y);
    }
    friend PNN_SIMD_INLINE vec abs(const vec& a) { return from_bits(a.get_bits() & std::numeric_limits<lane_int>::max()); }
    // The lanes' sum, in lane order (a fixed order: the same bits on every run).
    friend PNN_SIMD_INLINE double sum_lanes(const vec& a) {
        double s = 0;
        for (std::size_t i = 0; i < size; ++i) s += double(a.lane[i]);
        return s;
    }
};

// a b + c. Fused (one rounding) where the width's instruction set has FMA; the 16-byte width is
// the x86-64 baseline (SSE2), which has none, and rounds twice. The wider ones are marked for
// their instruction set, so they cannot be always inlined into code that is not: they touch
// the vectors only through the lanes in memory, and the optimiser removes the copies once
// flatten has taken them into a kernel of their level.
template <class T>
vec<T, 16> fma(const vec<T, 16>& a, const vec<T, 16>& b, const vec<T, 16>& c) {
    return a * b + c;
}
#if PNN_SIMD_X86 && !defined(__CUDACC__)
__attribute__((target("avx2,fma"))) inline vec<double, 32> fma(const vec<double, 32>& a, const vec<double, 32>& b,
                                                               const vec<double, 32>& c) {
    vec<double, 32> r;
    _mm256_storeu_pd(r.lane, _mm256_fmadd_pd(_mm256_loadu_pd(a.lane), _mm256_loadu_pd(b.lane), _mm256_loadu_pd(c.lane)));
    return r;
}
__attribute__((target("avx2,fma"))) inline vec<float, 32> fma(const vec<float, 32>& a, const vec<float, 32>& b,
                                                              const vec<float, 32>& c) {
    vec<float, 32> r;
    _mm256_storeu_ps(r.lane, _mm256_fmadd_ps(_mm256_loadu_ps(a.lane), _mm256_loadu_ps(b.lane), _mm256_loadu_ps(c.lane)));
    return r;
}
__attribute__((target("avx512f"))) inline vec<double, 64> fma(const vec<double, 64>& a, const vec<double, 64>& b,
                                                              const vec<double, 64>& c) {
    vec<double, 64> r;
    _mm512_storeu_pd(r.lane, _mm512_fmadd_pd(_mm512_loadu_pd(a.lane), _mm512_loadu_pd(b.lane), _mm512_loadu_pd(c.lane)));
    return r;
}
__attribute__((target("avx512f"))) inline vec<float, 64> fma(const vec<float, 64>& a, const vec<float, 64>& b,
                                                             const vec<float, 64>& c) {
    vec<float, 64> r;
    _mm512_storeu_ps(r.lane, _mm512_fmadd_ps(_mm512_loadu_ps(a.lane), _mm512_loadu_ps(b.lane), _mm512_loadu_ps(c.lane)));
    return r;
}
#endif

}  // namespace pnn::simd

#pragma GCC diagnostic pop
