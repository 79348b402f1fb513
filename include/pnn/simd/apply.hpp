// defines: pnn::simd::transform, pnn::simd::update, pnn::simd::update_three and pnn::simd::sum_of, the loops that evaluate
// a shared functor (pnn/nn/functions.hpp) over contiguous arrays on vec<T, Bytes>.
//
// The last, partial vector is evaluated as a whole vector too (padded, and only the real lanes
// kept), so every element goes through the same formula wherever it sits in the array: a row's
// values do not depend on how the rows were split into blocks or over ranks.
#pragma once
#include <algorithm>
#include <cstddef>

#include "pnn/simd/math.hpp"
#include "pnn/simd/vec.hpp"

namespace pnn::simd {

// Lanes [0, count) of a vector from p, the others 0.
template <class V, class T = typename V::value_type>
PNN_SIMD_KERNEL V load_partial(const T* p, std::size_t count) {
    T lanes[V::size] = {};
    std::copy_n(p, count, lanes);
    return V::load(lanes);
}

// out[i] = f(in[i]...) for i < n (out may be one of the inputs).
template <class V, class F, class T, class... In>
PNN_SIMD_KERNEL void transform(F f, T* out, std::size_t n, const In*... in) {
    std::size_t i = 0;
    for (; i + V::size <= n; i += V::size) f(V::load(in + i)...).store(out + i);
    if (i == n) return;
    T lanes[V::size];
    f(load_partial<V>(in + i, n - i)...).store(lanes);
    std::copy_n(lanes, n - i, out + i);
}

// The update step: v[i] = f.velocity(v[i], in[i]...), then θ[i] += v[i], for i < n, in one
// pass (two outputs, which transform cannot give).
template <class V, class F, class T, class... In>
PNN_SIMD_KERNEL void update(F f, T* theta, T* v, std::size_t n, const In*... in) {
    std::size_t i = 0;
    for (; i + V::size <= n; i += V::size) {
        const V vi = f.velocity(V::load(v + i), V::load(in + i)...);
        vi.store(v + i);
        (V::load(theta + i) + vi).store(theta + i);
    }
    if (i == n) return;
    T lanes_v[V::size], lanes_theta[V::size];
    const V vi = f.velocity(load_partial<V>(v + i, n - i), load_partial<V>(in + i, n - i)...);
    vi.store(lanes_v);
    (load_partial<V>(theta + i, n - i) + vi).store(lanes_theta);
    std::copy_n(lanes_v, n - i, v + i);
    std::copy_n(lanes_theta, n - i, theta + i);
}

// f(a[i], b[i], c[i], in[i]...) for i < n, where f updates its first three arguments in place
// (Adam's θ and two moments) from the inputs: one pass, every array read and written once.
template <class V, class F, class T, class... In>
PNN_SIMD_KERNEL void update_three(F f, T* a, T* b, T* c, std::size_t n, const In*... in) {
    std::size_t i = 0;
    for (; i + V::size <= n; i += V::size) {
        V va = V::load(a + i), vb = V::load(b + i), vc = V::load(c + i);
        f(va, vb, vc, V::load(in + i)...);
        va.store(a + i);
        vb.store(b + i);
        vc.store(c + i);
    }
    if (i == n) return;
    V va = load_partial<V>(a + i, n - i), vb = load_partial<V>(b + i, n - i), vc = load_partial<V>(c + i, n - i);
    f(va, vb, vc, load_partial<V>(in + i, n - i)...);
    T lanes[3][V::size];
    va.store(lanes[0]);
    vb.store(lanes[1]);
    vc.store(lanes[2]);
    std::copy_n(lanes[0], n - i, a + i);
    std::copy_n(lanes[1], n - i, b + i);
    std::copy_n(lanes[2], n - i, c + i);
}

// Σ f(x[i]) for i < n, summed per lane in T and then across lanes in double.
template <class V, class F, class T>
PNN_SIMD_KERNEL double sum_of(F f, const T* x, std::size_t n) {
    std::size_t i = 0;
    V acc(T(0));
    for (; i + V::size <= n; i += V::size) acc += f(V::load(x + i));
    double s = sum_lanes(acc);
    if (i < n) {
        T lanes[V::size];
        f(load_partial<V>(x + i, n - i)).store(lanes);
        for (std::size_t k = 0; k < n - i; ++k) s += double(lanes[k]);
    }
    return s;
}

}  // namespace pnn::simd
