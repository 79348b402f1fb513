// defines: pnn::detail::gemm_nt and gemm_tn, register-tiled products for the skinny shapes of a
// block of rows against a narrow layer, where BLAS spends more time packing the long operand
// than computing (benchmarks/RESULTS.md has the measurement). Written once over the vector type
// V (pnn/simd/vec.hpp); pnn::Cpu runs them through simd::dispatch at the CPU's level.
//
// Both read their operands in place (no packing) and accumulate in registers:
//   gemm_nt: C (M x N) = α A (M x K) B^T + β C,  B is N x K.  Each C[i][j] is a dot product along
//            K of two rows read contiguously; a 4 x 4 tile of them shares its loads.
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

// (The xsimd version of these kernels kept each loaded vector in a register with an empty asm,
// against g++ folding loads into the FMAs; over pnn's own vectors the same hint made g++ spill
// them instead: 31 against 35 GFLOP/s for the seed's forward product, so there is none.)

// Elements of scratch gemm_nt needs for a B of rows x cols (the caller aligns its start).
template <class T>
std::size_t gemm_nt_scratch(std::size_t rows, std::size_t cols) {
    constexpr std::size_t w = 64 / sizeof(T);  // the widest level's lanes
    return rows * ((cols + w - 1) / w * w);
}

// One I x J tile of gemm_nt at rows i0.., columns j0...
template <int I, int J, class V, class T = typename V::value_type>
void nt_tile(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, std::size_t i0,
             std::size_t j0) {
    constexpr std::size_t w = V::size;
    const std::size_t k = a.cols, kv = k - k % w;
    // the compiler's vectors, not V, in the hot loop: g++ keeps arrays of them in registers,
    // where arrays of V (a struct) had their loads spilled to the stack
    using N = typename V::native;
    N acc[I][J];
    PNN_UNROLL(4)
    for (int i = 0; i < I; ++i)
        PNN_UNROLL(4)
        for (int j = 0; j < J; ++j) acc[i][j] = N{};
    const T* ap[I];
    const T* bp[J];
    for (int i = 0; i < I; ++i) ap[i] = a.row(i0 + i);
    for (int j = 0; j < J; ++j) bp[j] = b.row(j0 + j);
    for (std::size_t p = 0; p < kv; p += w) {
        // all I + J loads first, then I x J fused multiply-adds from registers
        N av[I], bv[J];
        PNN_UNROLL(4)
        for (int i = 0; i < I; ++i) av[i] = V::load(ap[i] + p).get();
        PNN_UNROLL(4)
        for (int j = 0; j < J; ++j) bv[j] = V::load(bp[j] + p).get();
        PNN_UNROLL(4)
        for (int i = 0; i < I; ++i)
            PNN_UNROLL(4)
            for (int j = 0; j < J; ++j) acc[i][j] = fma(V(av[i]), V(bv[j]), V(acc[i][j])).get();
    }
    for (int i = 0; i < I; ++i)
        for (int j = 0; j < J; ++j) {
            T s = reduce_add(V(acc[i][j]));
            for (std::size_t p = kv; p < k; ++p) s += a.row(i0 + i)[p] * b.row(j0 + j)[p];
            T& out = c.row(i0 + i)[j0 + j];
            out = beta == T(0) ? alpha * s : alpha * s + beta * out;
        }
}

template <int I, class V, class T = typename V::value_type>
void nt_row_band(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, std::size_t i0) {
    std::size_t j = 0;
    for (; j + 4 <= c.cols; j += 4) nt_tile<I, 4, V>(alpha, a, b, beta, c, i0, j);
    switch (c.cols - j) {
        case 3: nt_tile<I, 3, V>(alpha, a, b, beta, c, i0, j); break;
        case 2: nt_tile<I, 2, V>(alpha, a, b, beta, c, i0, j); break;
        case 1: nt_tile<I, 1, V>(alpha, a, b, beta, c, i0, j); break;
        default: break;
    }
}

// scratch: room for b's rows at an aligned stride (see gemm_nt_scratch), reused across calls.
template <class V, class T = typename V::value_type>
void gemm_nt(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, T* scratch) {
    // B's rows are usually a Theta's weights, which start one element after the bias: every
    // vector load from them would straddle two cache lines, for each of the many rows of A.
    // Copying B (small: the layer's weights) to rows aligned to the vector width once per call
    // is cheaper than that.
    constexpr std::size_t w = V::size;
    const std::size_t ld = (b.cols + w - 1) / w * w;
    for (std::size_t j = 0; j < b.rows; ++j) std::copy_n(b.row(j), b.cols, scratch + j * ld);
    b = MatrixRef<const T>{scratch, b.rows, b.cols, ld};
    std::size_t i = 0;
    for (; i + 4 <= c.rows; i += 4) nt_row_band<4, V>(alpha, a, b, beta, c, i);
    switch (c.rows - i) {
        case 3: nt_row_band<3, V>(alpha, a, b, beta, c, i); break;
        case 2: nt_row_band<2, V>(alpha, a, b, beta, c, i); break;
        case 1: nt_row_band<1, V>(alpha, a, b, beta, c, i); break;
        default: break;
    }
}

// One tile of gemm_tn: rows j0..j0+J of C, W vectors of columns from p0 (W = 0: one scalar column).
template <int J, int W, class V, class T = typename V::value_type>
void tn_tile(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, std::size_t j0,
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
                const V av(ar[j]);
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
void tn_row_band(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, std::size_t j0) {
    constexpr std::size_t w = V::size;
    std::size_t p = 0;
    for (; p + 2 * w <= c.cols; p += 2 * w) tn_tile<J, 2, V>(alpha, a, b, beta, c, j0, p);
    for (; p + w <= c.cols; p += w) tn_tile<J, 1, V>(alpha, a, b, beta, c, j0, p);
    for (; p < c.cols; ++p) tn_tile<J, 0, V>(alpha, a, b, beta, c, j0, p);
}

template <class V, class T = typename V::value_type>
void gemm_tn(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c) {
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
