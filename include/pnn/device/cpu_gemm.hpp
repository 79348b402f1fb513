// defines: pnn::detail::gemm_nt and gemm_tn, register-tiled products for the skinny shapes of a
// block of rows against a narrow layer, where BLAS spends more time packing the long operand
// than computing (benchmarks/RESULTS.md has the measurement). Written once over the vector type
// V (pnn/simd/vec.hpp); pnn::Cpu runs them through simd::dispatch at the CPU's level.
//
// Both read their operands in place (no packing) and accumulate in registers:
//   gemm_nt: C (M x N) = α A (M x K) B^T + β C,  B is N x K.  Each C[i][j] is a dot product along
//            K of two rows read contiguously; a tile of them (5 x 4 or 2 x 4, see nt_tile_rows)
//            shares its loads.
//   gemm_tn: C (M x N) = α A^T B + β C,  A is K x M, B is K x N.  C's rows are swept along N in
//            vectors; a tile of up to 8 rows x 2 vectors of C is updated once per row of A and B.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "pnn/config.hpp"
#include "pnn/simd/vec.hpp"
#include "pnn/util/matrix_ref.hpp"

// (vector values inside always-inlined code: see pnn/simd/vec.hpp)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace pnn::detail {

// Elements of scratch gemm_nt needs for a B of rows x cols (the caller aligns its start).
template <class T>
std::size_t gemm_nt_scratch(std::size_t rows, std::size_t cols) {
    constexpr std::size_t w = 64 / sizeof(T);  // the widest level's lanes
    return rows * ((cols + w - 1) / w * w);
}

// One I x J tile of gemm_nt at rows i0.., columns j0...
// `ahead` walks the next band of A's rows one cache line per step (see nt_row_band).
template <int I, int J, class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void nt_tile(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, std::size_t i0,
             std::size_t j0, const char*& ahead, const char* ahead_end) {
    constexpr std::size_t w = V::size;
    const std::size_t k = a.cols, kv = k - k % w;
    // the compiler's vectors, not V, in the hot loop: g++ keeps arrays of them in registers,
    // where arrays of V (a struct) had their loads spilled to the stack
    using N = typename V::native;
    N acc[I][J];
    PNN_UNROLL(8)
    for (int i = 0; i < I; ++i)
        PNN_UNROLL(8)
        for (int j = 0; j < J; ++j) acc[i][j] = N{};
    const T* ap[I];
    const T* bp[J];
    for (int i = 0; i < I; ++i) ap[i] = a.row(i0 + i);
    for (int j = 0; j < J; ++j) bp[j] = b.row(j0 + j);
    for (std::size_t p = 0; p < kv; p += w) {
        // (no branch: at -O3 g++ split the loop where the condition turns, and the second copy
        // spilled accumulators; past the end it touches the last line again, an L1 hit)
        __builtin_prefetch(ahead);
        ahead += ahead_end - ahead > 64 ? 64 : 0;
        // all I + J loads first, then I x J fused multiply-adds from registers
        N av[I], bv[J];
        PNN_UNROLL(8)
        for (int i = 0; i < I; ++i) av[i] = V::load(ap[i] + p).get();
        PNN_UNROLL(8)
        for (int j = 0; j < J; ++j) bv[j] = V::load(bp[j] + p).get();
        PNN_UNROLL(8)
        for (int i = 0; i < I; ++i)
            PNN_UNROLL(8)
            for (int j = 0; j < J; ++j) acc[i][j] = fma(V(av[i]), V(bv[j]), V(acc[i][j])).get();
    }
    // unrolled, so that every index of acc is a constant: with these loops left rolled, clang 14
    // kept acc in memory and stored all 20 accumulators on every step of the loop above (the
    // seed's forward product at 18 GFLOP/s float64 under clang against 44 now; g++ unchanged)
    PNN_UNROLL(8)
    for (int i = 0; i < I; ++i)
        PNN_UNROLL(8)
        for (int j = 0; j < J; ++j) {
            T s = reduce_add(V(acc[i][j]));
            for (std::size_t p = kv; p < k; ++p) s += a.row(i0 + i)[p] * b.row(j0 + j)[p];
            T& out = c.row(i0 + i)[j0 + j];
            out = beta == T(0) ? alpha * s : alpha * s + beta * out;
        }
}

// The tile of gemm_nt per level: I x J accumulators plus I + J loaded vectors must fit the
// vector registers, or g++ spills accumulators and folds loads into the multiply-adds (seen in
// perf annotate: 20 loads a step instead of 8, and the 4 x 4 tile at 35 GFLOP/s). AVX-512 has 32:
// 5 x 4 (20 + 9) ran the seed's forward product at 45 GFLOP/s float64 against 35-40 for 4 x 4;
// AVX2 and SSE2 have 16: 2 x 4 (8 + 6).
template <class V>
inline constexpr int nt_tile_rows = V::size * sizeof(typename V::value_type) >= 64 ? 5 : 2;
inline constexpr int nt_tile_cols = 4;

template <int I, class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void nt_row_band(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, std::size_t i0) {
    // A's rows come from memory once (the first tile of their band reads them, the others
    // find them in L1). The hardware's prefetchers do not run far enough ahead of I short
    // interleaved streams, so while a band computes, it touches the next band's lines, one
    // per step (the forward product over a 5000-row block streamed from memory: 3.3-4.0
    // against 3.9-4.6 ms without).
    const std::size_t next = std::min(i0 + I, a.rows), last = std::min(i0 + 2 * I, a.rows);
    const char* ahead = reinterpret_cast<const char*>(a.data + next * a.ld);
    const char* ahead_end = next < last ? reinterpret_cast<const char*>(a.row(last - 1) + a.cols) : ahead;
    constexpr int J = nt_tile_cols;
    std::size_t j = 0;
    for (; j + J <= c.cols; j += J) nt_tile<I, J, V>(alpha, a, b, beta, c, i0, j, ahead, ahead_end);
    // (switches, not a recursive template over the count: g++'s flatten left that one's calls
    // out of line, and with them the fused multiply-add, at a tenth of the speed)
    static_assert(J == 4);
    switch (c.cols - j) {
        case 3: nt_tile<I, 3, V>(alpha, a, b, beta, c, i0, j, ahead, ahead_end); break;
        case 2: nt_tile<I, 2, V>(alpha, a, b, beta, c, i0, j, ahead, ahead_end); break;
        case 1: nt_tile<I, 1, V>(alpha, a, b, beta, c, i0, j, ahead, ahead_end); break;
        default: break;
    }
}

// scratch: room for b's rows at an aligned stride (see gemm_nt_scratch), reused across calls.
template <class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void gemm_nt(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, T* scratch) {
    // B's rows are usually a Theta's weights, which start one element after the bias: every
    // vector load from them would straddle two cache lines, for each of the many rows of A.
    // Copying B (small: the layer's weights) to rows aligned to the vector width once per call
    // is cheaper than that.
    constexpr std::size_t w = V::size;
    const std::size_t ld = (b.cols + w - 1) / w * w;
    for (std::size_t j = 0; j < b.rows; ++j) std::copy_n(b.row(j), b.cols, scratch + j * ld);
    b = MatrixRef<const T>{scratch, b.rows, b.cols, ld};
    constexpr int I = nt_tile_rows<V>;
    std::size_t i = 0;
    for (; i + I <= c.rows; i += I) nt_row_band<I, V>(alpha, a, b, beta, c, i);
    static_assert(I <= 5);
    switch (c.rows - i) {
        case 4: if constexpr (I > 4) nt_row_band<4, V>(alpha, a, b, beta, c, i); break;
        case 3: if constexpr (I > 3) nt_row_band<3, V>(alpha, a, b, beta, c, i); break;
        case 2: if constexpr (I > 2) nt_row_band<2, V>(alpha, a, b, beta, c, i); break;
        case 1: nt_row_band<1, V>(alpha, a, b, beta, c, i); break;
        default: break;
    }
}

// One tile of gemm_tn: rows j0..j0+J of C, W vectors of columns from p0 (W = 0: one scalar column).
template <int J, int W, class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void tn_tile(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, std::size_t j0,
             std::size_t p0) {
    constexpr std::size_t w = V::size;
    if constexpr (W == 0) {
        T acc[J] = {};
        for (std::size_t r = 0; r < a.rows; ++r)
            for (int j = 0; j < J; ++j) acc[j] += a.row(r)[j0 + j] * b.row(r)[p0];
        for (int j = 0; j < J; ++j) {
            T& out = c.row(j0 + j)[p0];
            out = beta == T(0) ? alpha * acc[j] : alpha * acc[j] + beta * out;
        }
    } else {
        V acc[J][W];
        PNN_UNROLL(8)
        for (int j = 0; j < J; ++j)
            PNN_UNROLL(2)
            for (int v = 0; v < W; ++v) acc[j][v] = V(T(0));
        for (std::size_t r = 0; r < a.rows; ++r) {
            V bv[W];
            PNN_UNROLL(2)
            for (int v = 0; v < W; ++v) bv[v] = V::load(b.row(r) + p0 + v * w);
            const T* ar = a.row(r) + j0;
            PNN_UNROLL(8)
            for (int j = 0; j < J; ++j) {
                const V av = V::broadcast(ar + j);
                PNN_UNROLL(2)
                for (int v = 0; v < W; ++v) acc[j][v] = fma(av, bv[v], acc[j][v]);
            }
        }
        const V va(alpha), vb(beta);
        for (int j = 0; j < J; ++j)
            for (int v = 0; v < W; ++v) {
                T* out = c.row(j0 + j) + p0 + v * w;
                const V r = beta == T(0) ? va * acc[j][v]
                                                : fma(va, acc[j][v], vb * V::load(out));
                r.store(out);
            }
    }
}

template <int J, class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void tn_row_band(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, std::size_t j0) {
    constexpr std::size_t w = V::size;
    std::size_t p = 0;
    for (; p + 2 * w <= c.cols; p += 2 * w) tn_tile<J, 2, V>(alpha, a, b, beta, c, j0, p);
    for (; p + w <= c.cols; p += w) tn_tile<J, 1, V>(alpha, a, b, beta, c, j0, p);
    for (; p < c.cols; ++p) tn_tile<J, 0, V>(alpha, a, b, beta, c, j0, p);
}

template <class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void gemm_tn(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c) {
    std::size_t j = 0;
    for (; j + 8 <= c.rows; j += 8) tn_row_band<8, V>(alpha, a, b, beta, c, j);
    switch (c.rows - j) {
        case 7: tn_row_band<7, V>(alpha, a, b, beta, c, j); break;
        case 6: tn_row_band<6, V>(alpha, a, b, beta, c, j); break;
        case 5: tn_row_band<5, V>(alpha, a, b, beta, c, j); break;
        case 4: tn_row_band<4, V>(alpha, a, b, beta, c, j); break;
        case 3: tn_row_band<3, V>(alpha, a, b, beta, c, j); break;
        case 2: tn_row_band<2, V>(alpha, a, b, beta, c, j); break;
        case 1: tn_row_band<1, V>(alpha, a, b, beta, c, j); break;
        default: break;
    }
}

}  // namespace pnn::detail

#pragma GCC diagnostic pop
