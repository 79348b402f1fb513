// defines: exp, log1p and tanh for pnn::simd::vec, written once over the vector arithmetic, so that
// every instruction-set level evaluates the shared functors (sigmoid, softplus, tanh) on whole
// vectors.
//
// Accuracy: within a few ulp of the correctly rounded value (checked against std::exp and
// std::log1p and std::tanh in core_test, at every level). exp(x) is +inf above the largest finite result and
// 0 below the smallest subnormal one; log1p(x) is for x > -1 (softplus calls it on (0, 1]).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "pnn/simd/vec.hpp"

// (vector values inside always-inlined code: see pnn/simd/vec.hpp)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace pnn::simd {

namespace detail {
template <class T>
struct exp_constants;
template <>
struct exp_constants<double> {
    static constexpr double round_magic = 0x1.8p52;  // adding it rounds to an integer in the low bits
    static constexpr double log2e = 1.4426950408889634;
    static constexpr double ln2_hi = 0x1.62e42fee00000p-1, ln2_lo = 0x1.a39ef35793c76p-33;  // Cody-Waite
    static constexpr double hi = 709.782712893384, lo = -745.1332191019412;
    static constexpr int mantissa_bits = 52, exponent_bias = 1023, exponent_mask = 0x7ff, taylor_degree = 13;
};
template <>
struct exp_constants<float> {
    static constexpr float round_magic = 0x1.8p23f;
    static constexpr float log2e = 1.44269504f;
    static constexpr float ln2_hi = 0x1.62e4p-1f, ln2_lo = 0x1.7f7d1cp-20f;
    static constexpr float hi = 88.7228391f, lo = -103.972084f;
    static constexpr int mantissa_bits = 23, exponent_bias = 127, exponent_mask = 0xff, taylor_degree = 7;
};

// Horner's rule over a table known at compile time: c[0] + x (c[1] + x (c[2] + ...)), unrolled.
template <class V, std::size_t N, std::size_t... K>
PNN_SIMD_KERNEL V horner(const V& x, const std::array<typename V::value_type, N>& c, std::index_sequence<K...>) {
    V p(c[N - 1]);
    ((p = fma(p, x, V(c[N - 2 - K]))), ...);
    return p;
}
template <class V, std::size_t N>
PNN_SIMD_KERNEL V horner(const V& x, const std::array<typename V::value_type, N>& c) {
    return horner(x, c, std::make_index_sequence<N - 1>{});
}

// 1 / k! for k = 0..d: e^r = Σ r^k / k!; |r| <= ln2 / 2 keeps the truncation below an ulp
// (r^14 / 14! < 5e-18 in double, r^8 / 8! < 6e-9 in float).
template <class T>
constexpr auto exp_series() {
    std::array<T, exp_constants<T>::taylor_degree + 1> c{};
    c[0] = 1;
    for (std::size_t k = 1; k < c.size(); ++k) c[k] = c[k - 1] / T(k);
    return c;
}
// 2 / (2k + 1) for k = 0..terms: log(m) = 2 atanh(s) = Σ 2 s^(2k+1) / (2k + 1), to s^21
// (double) or s^9 (float); |s| < 0.1716 puts the next term below an ulp.
template <class T>
constexpr auto atanh_series() {
    std::array<T, sizeof(T) == 8 ? 11 : 5> c{};
    for (std::size_t k = 0; k < c.size(); ++k) c[k] = T(2) / T(2 * k + 1);
    return c;
}
// tanh's Taylor coefficients a_n of x^(2n+1), n = 0..: from tanh' = 1 - tanh²,
// (2n + 1) a_n = [n = 0] - Σ_{i+j=n-1} a_i a_j (a_0 = 1, a_1 = -1/3, a_2 = 2/15, ...). For
// |x| < 1/2 the terms fall below a quarter ulp by n = 17 (double) or 8 (float).
template <class T>
constexpr auto tanh_series() {
    constexpr std::size_t terms = sizeof(T) == 8 ? 17 : 8;
    std::array<double, terms> a{};
    for (std::size_t n = 0; n < terms; ++n) {
        double s = n == 0 ? 1.0 : 0.0;
        for (std::size_t i = 0; i + 1 <= n; ++i) s -= a[i] * a[n - 1 - i];
        a[n] = s / double(2 * n + 1);
    }
    std::array<T, terms> c{};
    for (std::size_t n = 0; n < terms; ++n) c[n] = T(a[n]);
    return c;
}
}  // namespace detail

// e^x = 2^n e^r with n = round(x log2 e), r = x - n ln2 (ln2 in two parts, so r is exact).
// 2^n is applied as 2^(n - n/2) 2^(n/2), two factors that are normal numbers for every n from
// the smallest subnormal result to the largest finite one.
template <class T, std::size_t B>
PNN_SIMD_KERNEL vec<T, B> exp(const vec<T, B>& x) {
    using V = vec<T, B>;
    using C = detail::exp_constants<T>;
    using native = typename V::native;
    const native xv = x.get();
    const native lo = native{} + C::lo, hi = native{} + C::hi;
    const native clamped = xv < lo ? lo : (xv > hi ? hi : xv);
    const native shifted = clamped * C::log2e + C::round_magic;  // n in the low mantissa bits
    const native n = shifted - C::round_magic;
    const V r = fma(V::from(n), V(-C::ln2_lo), fma(V::from(n), V(-C::ln2_hi), V::from(clamped)));
    const auto n_int = V::from(shifted).get_bits() - V::from(native{} + C::round_magic).get_bits();
    const auto half = n_int >> 1, rest = n_int - half;
    const native scale_half = V::from_bits((half + C::exponent_bias) << C::mantissa_bits).get();
    const native scale_rest = V::from_bits((rest + C::exponent_bias) << C::mantissa_bits).get();
    static constexpr auto series = detail::exp_series<T>();
    native result = detail::horner(r, series).get() * scale_rest * scale_half;
    result = xv > hi ? native{} + __builtin_inf() : result;
    result = xv < lo ? native{} : result;
    return V::from(result);
}

// log(1 + x) = log(u) + (x - (u - 1)) / u with u = 1 + x rounded: the second term restores
// what the rounding of u lost, so tiny x keep their digits. log(u) = e ln2 + log(m) with
// u = m 2^e, m in [√½, √2), and log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.1716.
template <class T, std::size_t B>
PNN_SIMD_KERNEL vec<T, B> log1p(const vec<T, B>& x) {
    using V = vec<T, B>;
    using C = detail::exp_constants<T>;
    using native = typename V::native;
    using lane_int = typename V::lane_int;
    const native xv = x.get();
    const native u = xv + T(1);
    const native correction = (xv - (u - T(1))) / u;
    const auto ubits = V::from(u).get_bits();
    constexpr lane_int mantissa_mask = (lane_int(1) << C::mantissa_bits) - 1;
    constexpr lane_int one_bits = lane_int(C::exponent_bias) << C::mantissa_bits;  // the bits of 1.0
    native m = V::from_bits((ubits & mantissa_mask) | one_bits).get();         // in [1, 2)
    auto e = ((ubits >> C::mantissa_bits) & lane_int(C::exponent_mask)) - lane_int(C::exponent_bias);
    const auto big = m > T(1.4142135623730951);
    m = big ? m * T(0.5) : m;
    e = e - big;  // a true lane compares as -1: e + 1 where m was halved
    const native s = (m - T(1)) / (m + T(1)), s2 = s * s;
    static constexpr auto series = detail::atanh_series<T>();
    const native log_m = (detail::horner(V::from(s2), series) * V::from(s)).get();
    // e as a float: its bits added under those of round_magic (no int-to-float conversion, which
    // AVX2 lacks for 64-bit lanes)
    const native ef = V::from_bits(e + V(C::round_magic).get_bits()).get() - C::round_magic;
    return V::from(ef * C::ln2_hi + (log_m + (ef * C::ln2_lo + correction)));
}

// tanh(x) = sign(x) t(|x|): for |x| >= 1/2, t = (1 - e) / (1 + e) with e = e^(-2|x|) <= e^-1,
// where 1 - e >= 0.63 loses nothing to cancellation and nothing overflows (e -> 0: t = 1); below
// 1/2, where 1 - e would cancel, the Taylor series x Σ a_n x^(2n). Both are evaluated, one kept.
template <class T, std::size_t B>
PNN_SIMD_KERNEL vec<T, B> tanh(const vec<T, B>& x) {
    using V = vec<T, B>;
    using native = typename V::native;
    const V ax = abs(x);
    const native e = exp(ax * V(T(-2))).get();
    const native far = (T(1) - e) / (T(1) + e);
    static constexpr auto series = detail::tanh_series<T>();
    const native near = (detail::horner(ax * ax, series) * ax).get();
    const native t = ax.get() < T(0.5) ? near : far;  // NaN: far, which is NaN
    // the sign of x on t >= 0
    return V::from_bits(V::from(t).get_bits() | (x.get_bits() & ~std::numeric_limits<typename V::lane_int>::max()));
}

}  // namespace pnn::simd

#pragma GCC diagnostic pop
