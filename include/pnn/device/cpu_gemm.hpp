// defines: pnn::detail::gemm_nt and gemm_tn, register-tiled products for the skinny shapes of a
// block of rows against a narrow layer, where BLAS spends more time packing the long operand
// than computing (benchmarks/RESULTS.md has the measurement). Written once over the vector type
// V (pnn/simd/vec.hpp); pnn::Cpu runs them through simd::dispatch at the CPU's level.
//
// Both read the long operand (the block of rows) in place and accumulate in registers:
//   gemm_nt: C (M x N) = α A (M x K) B^T + β C,  B is N x K (the layer's weights), in one of two
//            forms by the level's registers. The dot form (32 registers, AVX-512): each C[i][j]
//            is a dot product along K of two rows read contiguously, a 5 x 4 tile of them sharing
//            its loads. The broadcast form (16 registers, AVX2 and SSE2): C's rows are vectors,
//            A's elements broadcast against B^T packed once (pack_bt), a 6 x 2-vector tile.
//   gemm_tn: C (M x N) = α A^T B + β C,  A is K x M, B is K x N.  C's rows are swept along N in
//            vectors; a tile of up to 8 (or 6) rows x 2 vectors of C is updated once per row of
//            A and B.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "pnn/config.hpp"
#include "pnn/simd/vec.hpp"
#include "pnn/util/matrix_ref.hpp"

// (vector values inside always-inlined code: see pnn/simd/vec.hpp)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace pnn::detail {

// Elements of B, a B of rows x cols, packed for any level (pack_bt; the caller aligns its start):
// no more than its rows at a stride of whole vectors of the widest level, which no narrower level
// pads more. It is also what the dot form's aligned copy of B takes: the scratch gemm_nt needs,
// in either form.
template <class T>
std::size_t packed_bt_size(std::size_t rows, std::size_t cols) {
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
// 5 x 4 (20 + 9) ran the seed's forward product at 45 GFLOP/s float64 against 35-40 for 4 x 4.
// (With 16 registers only 2 x 4 fits, too few rows per pass over B: the broadcast form below.)
inline constexpr int nt_tile_rows = 5;
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

// scratch: room for b's rows at an aligned stride (see packed_bt_size), reused across calls.
template <class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void gemm_nt_dot(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, T* scratch) {
    // B's rows are usually a Theta's weights, which start one element after the bias: every
    // vector load from them would straddle two cache lines, for each of the many rows of A.
    // Copying B (small: the layer's weights) to rows aligned to the vector width once per call
    // is cheaper than that.
    constexpr std::size_t w = V::size;
    const std::size_t ld = (b.cols + w - 1) / w * w;
    for (std::size_t j = 0; j < b.rows; ++j) std::copy_n(b.row(j), b.cols, scratch + j * ld);
    b = MatrixRef<const T>{scratch, b.rows, b.cols, ld};
    constexpr int I = nt_tile_rows;
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

// One step of K in the broadcast form's tile: acc (R x W vectors) += A's column p (R rows from
// ap) times B^T's row p in the panel.
template <int R, int W, class V, class T = typename V::value_type, class N = typename V::native>
PNN_SIMD_KERNEL void nt_bcast_step(const T* panel, const T* const (&ap)[R], std::size_t p, N (&acc)[R][W]) {
    constexpr std::size_t w = V::size;
    N bv[W];
    PNN_UNROLL(4)
    for (int v = 0; v < W; ++v) bv[v] = V::load(panel + p * W * w + v * w).get();
    PNN_UNROLL(8)
    for (int r = 0; r < R; ++r) {
        const N av = splat(ap[r] + p, std::type_identity<V>{}).get();
        PNN_UNROLL(4)
        for (int v = 0; v < W; ++v) acc[r][v] = fma(V(av), V(bv[v]), V(acc[r][v])).get();
    }
}

// The broadcast form of gemm_nt, for the levels with 16 vector registers (AVX2, SSE2), where the
// dot form's tile is too small: its 2 x 4 tile (8 accumulators and 6 loaded vectors fill the 16)
// reads all of B from L2 for every 2 rows of A, and g++ folds half of its loads into the
// multiply-adds (16 loads for 12 of them in a 3 x 4 tile), so it ran at 14-18 GFLOP/s float64 on
// a Zen 3 against OpenBLAS's 40 (benchmarks/RESULTS.md). Here C's rows are vectors:
//   C[i][j..j+w) += A[i][k] * B^T[k][j..j+w)   for k = 0..K,
// one broadcast of A's element feeding W vectors of B^T. B^T is packed (pack_bt) into
// panels of W vectors' columns (K x W*w each, contiguous), and a tile of
// R rows x W vectors of C (R W accumulators + W + 1 registers: 6 x 2 = 15) stays in registers for
// the whole of K, so each C element is one chain of fused multiply-adds in k's order (two, in a
// tile of one vector: below) and is written once. B^T is read from L2 once per R = 6 rows of A
// instead of once per 2.
// C's last N mod w columns (a whole vector's work for each, in this form) are dot products
// instead (nt_tile, on B's last rows copied after the panels): the seed's 25 hidden units are
// 6 vectors and 1 column in float64, where a seventh vector for that column took a sixth of the
// product's time (4 of 22 cycles a step of K: its 6 accumulators wait on the multiply-add's
// latency), a dot product a fraction of that.
template <int R, int W, class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void nt_bcast_tile(T alpha, MatrixRef<const T> a, const T* panel, T beta, MatrixRef<T> c, std::size_t i0,
                                   std::size_t j0, const char*& ahead, const char* ahead_end) {
    constexpr std::size_t w = V::size;
    // A tile of one vector has R chains of multiply-adds, too few to cover the instruction's
    // latency (4 cycles, 2 a cycle: 8 chains); there, even and odd steps of K go to two sets of
    // accumulators, added at the end (the float32 seed's last 8 full columns: a step of K in 3
    // cycles instead of 4).
    constexpr int S = W == 1 ? 2 : 1;
    using N = typename V::native;
    N acc[S][R][W] = {};  // (zeros)
    const T* ap[R];
    for (int r = 0; r < R; ++r) ap[r] = a.row(i0 + r);
    const std::size_t k = a.cols, ks = k - k % S;
    for (std::size_t p = 0; p < ks; p += S) {
        // one line of the next band's rows per 4 steps (see nt_row_band): a band's tiles take
        // K steps each, and the next band's R rows fill R K sizeof(T) / 64 lines, so it is all
        // touched before it starts (float64 and 25 columns: 400 steps of 4 tiles, 300 lines)
        if (p % 4 < S) {
            __builtin_prefetch(ahead);
            ahead += ahead_end - ahead > 64 ? 64 : 0;
        }
        PNN_UNROLL(2)
        for (int s = 0; s < S; ++s) nt_bcast_step<R, W, V>(panel, ap, p + s, acc[s]);
    }
    if (ks < k) nt_bcast_step<R, W, V>(panel, ap, ks, acc[0]);
    PNN_UNROLL(8)
    for (int r = 0; r < R; ++r) {
        T* out = c.row(i0 + r) + j0;
        PNN_UNROLL(4)
        for (int v = 0; v < W; ++v) {
            V sum(acc[0][r][v]);
            if constexpr (S == 2) sum = sum + V(acc[1][r][v]);
            const V res = beta == T(0) ? V(alpha) * sum : fma(V(alpha), sum, V(beta) * V::load(out + v * w));
            res.store(out + v * w);
        }
    }
}

// The broadcast form's tile: R rows of A x W vectors of C (see above). On the Zen 3, with B^T
// packed once per pass, float64 / float32 GFLOP/s of the seed's forward product: 6 x 2 33-35 /
// 66-69, 5 x 2 31-32 / 65, 4 x 3 27-32 / 34-55.
inline constexpr int nt_bcast_rows = 6, nt_bcast_vectors = 2;

// Columns of C (of n) in the broadcast form's panels: whole vectors; the rest are dot products.
template <class V>
std::size_t nt_panel_columns(std::size_t n) {
    return n - n % V::size;
}

// Vectors of C's columns in the panel that starts at column j0 (of n): W, or fewer for the last.
template <class V>
std::size_t nt_panel_vectors(std::size_t j0, std::size_t n) {
    return std::min<std::size_t>(nt_bcast_vectors, (nt_panel_columns<V>(n) - j0) / V::size);
}

// The stride of B's last rows after the panels (see pack_bt): K in whole vectors.
template <class V>
std::size_t nt_tail_stride(std::size_t k) {
    return (k + V::size - 1) / V::size * V::size;
}

template <int R, class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void nt_bcast_band(T alpha, MatrixRef<const T> a, const T* packed, T beta, MatrixRef<T> c,
                                   std::size_t i0) {
    constexpr std::size_t w = V::size;
    constexpr int W = nt_bcast_vectors;
    const std::size_t next = std::min(i0 + R, a.rows), last = std::min(i0 + 2 * R, a.rows);
    const char* ahead = reinterpret_cast<const char*>(a.data + next * a.ld);
    const char* ahead_end = next < last ? reinterpret_cast<const char*>(a.row(last - 1) + a.cols) : ahead;
    const std::size_t k = a.cols, n = nt_panel_columns<V>(c.cols);
    for (std::size_t j = 0; j < n; j += W * w) {
        const T* panel = packed + j * k;
        static_assert(W == 2);
        if (nt_panel_vectors<V>(j, c.cols) == 2) nt_bcast_tile<R, 2, V>(alpha, a, panel, beta, c, i0, j, ahead, ahead_end);
        else nt_bcast_tile<R, 1, V>(alpha, a, panel, beta, c, i0, j, ahead, ahead_end);
    }
    // the last columns, one at a time (R + 1 loaded vectors and R accumulators: 13 of the 16)
    const MatrixRef<const T> tail{packed + n * k, c.cols - n, k, nt_tail_stride<V>(k)};
    const MatrixRef<T> c_tail{c.data + n, c.rows, c.cols - n, c.ld};
    for (std::size_t j = 0; j < tail.rows; ++j) nt_tile<R, 1, V>(alpha, a, tail, beta, c_tail, i0, j, ahead, ahead_end);
}

// Whether level V's gemm_nt reads B^T packed (the broadcast form) rather than B's rows.
template <class V>
inline constexpr bool nt_reads_packed_bt = V::size * sizeof(typename V::value_type) < 64;

// B^T into the panels nt_bcast_tile reads: for each W vectors' columns j0.. (fewer for the last
// panel), K rows of that many values, B's row j in column j - j0. Then B's last N mod w rows as
// they are, at a stride of whole vectors (nt_tail_stride), for the dot products of those columns.
template <class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void pack_bt(MatrixRef<const T> b, T* packed) {
    constexpr std::size_t w = V::size;
    const std::size_t k = b.cols, n = nt_panel_columns<V>(b.rows);
    for (std::size_t j0 = 0; j0 < n; j0 += nt_bcast_vectors * w) {
        const std::size_t width = nt_panel_vectors<V>(j0, b.rows) * w;
        T* panel = packed + j0 * k;
        for (std::size_t p = 0; p < k; ++p)
            for (std::size_t c = 0; c < width; ++c) panel[p * width + c] = b.row(j0 + c)[p];
    }
    const std::size_t ld = nt_tail_stride<V>(k);
    for (std::size_t j = n; j < b.rows; ++j) {
        T* row = packed + n * k + (j - n) * ld;
        std::fill(std::copy_n(b.row(j), k, row), row + ld, T(0));
    }
}

// The broadcast form on B^T already packed by pack_bt<V> (C has B's rows as columns).
template <class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void gemm_nt_packed(T alpha, MatrixRef<const T> a, const T* packed, T beta, MatrixRef<T> c) {
    constexpr int R = nt_bcast_rows;
    static_assert(R <= 6);
    std::size_t i = 0;
    for (; i + R <= c.rows; i += R) nt_bcast_band<R, V>(alpha, a, packed, beta, c, i);
    switch (c.rows - i) {
        case 5: if constexpr (R > 5) nt_bcast_band<5, V>(alpha, a, packed, beta, c, i); break;
        case 4: if constexpr (R > 4) nt_bcast_band<4, V>(alpha, a, packed, beta, c, i); break;
        case 3: if constexpr (R > 3) nt_bcast_band<3, V>(alpha, a, packed, beta, c, i); break;
        case 2: if constexpr (R > 2) nt_bcast_band<2, V>(alpha, a, packed, beta, c, i); break;
        case 1: nt_bcast_band<1, V>(alpha, a, packed, beta, c, i); break;
        default: break;
    }
}

// gemm_nt: C (M x N) = α A B^T + β C at level V, packing B (or B^T) into scratch
// (packed_bt_size) first. The dot form where 32 vector registers hold its 5 x 4 tile (AVX-512:
// measured there, not yet against the broadcast form), the broadcast form elsewhere. A caller
// that multiplies many blocks of rows by one B packs B^T once instead (pnn::Cpu's packed_weights).
template <class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void gemm_nt(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, T* scratch) {
    if constexpr (nt_reads_packed_bt<V>) {
        pack_bt<V>(b, scratch);
        gemm_nt_packed<V>(alpha, a, scratch, beta, c);
    } else {
        gemm_nt_dot<V>(alpha, a, b, beta, c, scratch);
    }
}

// One row of A and B into gemm_tn's tile: acc (J x W vectors) += A[r][j0..j0+J)^T B[r][p0..).
template <int J, int W, class V, class T = typename V::value_type, class N = typename V::native>
PNN_SIMD_KERNEL void tn_step(MatrixRef<const T> a, MatrixRef<const T> b, std::size_t r, std::size_t j0, std::size_t p0,
                             N (&acc)[J][W]) {
    constexpr std::size_t w = V::size;
    N bv[W];
    PNN_UNROLL(2)
    for (int v = 0; v < W; ++v) bv[v] = V::load(b.row(r) + p0 + v * w).get();
    const T* ar = a.row(r) + j0;
    PNN_UNROLL(8)
    for (int j = 0; j < J; ++j) {
        const N av = splat(ar + j, std::type_identity<V>{}).get();
        PNN_UNROLL(2)
        for (int v = 0; v < W; ++v) acc[j][v] = fma(V(av), V(bv[v]), V(acc[j][v])).get();
    }
}

// One tile of gemm_tn: rows j0..j0+J of C, W vectors of columns from p0 (W = 0: one scalar column).
// As in nt_tile, the accumulators are the compiler's vectors and every loop over them is
// unrolled, so that they stay in registers at -O2 too: with arrays of V and the write-back loops
// left rolled, g++ 12 -O2 (what a user's `g++ -O2 $(pkg-config ...)` gets) kept them in memory,
// and the seed's float32 iteration took 2x its -O3 time.
template <int J, int W, class V, class T = typename V::value_type>
PNN_SIMD_KERNEL void tn_tile(T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta, MatrixRef<T> c, std::size_t j0,
             std::size_t p0) {
    constexpr std::size_t w = V::size;
    if constexpr (W == 0) {
        T acc[J] = {};
        for (std::size_t r = 0; r < a.rows; ++r)
            PNN_UNROLL(8)
            for (int j = 0; j < J; ++j) acc[j] += a.row(r)[j0 + j] * b.row(r)[p0];
        PNN_UNROLL(8)
        for (int j = 0; j < J; ++j) {
            T& out = c.row(j0 + j)[p0];
            out = beta == T(0) ? alpha * acc[j] : alpha * acc[j] + beta * out;
        }
    } else {
        // Fewer than 8 chains of multiply-adds (C's last rows: the seed's 25th) wait on the
        // instruction's latency; there even and odd rows of A and B go to two sets of
        // accumulators, added at the end (as in nt_bcast_tile).
        constexpr int S = J * W < 8 ? 2 : 1;
        using N = typename V::native;
        N acc[S][J][W] = {};  // (zeros)
        const std::size_t rs = a.rows - a.rows % S;
        for (std::size_t r = 0; r < rs; r += S)
            PNN_UNROLL(2)
            for (int s = 0; s < S; ++s) tn_step<J, W, V>(a, b, r + s, j0, p0, acc[s]);
        if (rs < a.rows) tn_step<J, W, V>(a, b, rs, j0, p0, acc[0]);
        const V va(alpha), vb(beta);
        PNN_UNROLL(8)
        for (int j = 0; j < J; ++j)
            PNN_UNROLL(2)
            for (int v = 0; v < W; ++v) {
                T* out = c.row(j0 + j) + p0 + v * w;
                V sum(acc[0][j][v]);
                if constexpr (S == 2) sum = sum + V(acc[1][j][v]);
                const V r = beta == T(0) ? va * sum : fma(va, sum, vb * V::load(out));
                r.store(out);
            }
    }
}

// Rows of C in gemm_tn's tile (of 2 vectors' columns): J x 2 accumulators, 2 loaded vectors and
// a broadcast must fit the registers. 8 x 2 (19) spilled with 16 registers (AVX2, SSE2); 6 x 2
// (15) there: the seed's gradient product on a Zen 3 at 32-35 GFLOP/s float64 and 63-66 float32,
// against 19-22 and 40-49 for 8 x 2, 28 and 48 for 4 x 2, 31-35 and 50-63 for 5 x 2.
template <class V>
inline constexpr int tn_tile_rows = V::size * sizeof(typename V::value_type) >= 64 ? 8 : 6;

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
    constexpr int J = tn_tile_rows<V>;
    std::size_t j = 0;
    for (; j + J <= c.rows; j += J) tn_row_band<J, V>(alpha, a, b, beta, c, j);
    switch (c.rows - j) {
        case 7: if constexpr (J > 7) tn_row_band<7, V>(alpha, a, b, beta, c, j); break;
        case 6: if constexpr (J > 6) tn_row_band<6, V>(alpha, a, b, beta, c, j); break;
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
