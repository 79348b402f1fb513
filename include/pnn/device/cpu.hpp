// defines: pnn::Cpu, the device policy that trains on the host: buffers are xtensor containers,
// the narrow products are pnn's own kernels (cpu_gemm.hpp), the others go to BLAS (cblas,
// OpenBLAS by default), and the elementwise work evaluates the shared functors of
// pnn/nn/functions.hpp on whole vectors. pnn's kernels run at the level of the CPU they find
// (pnn/simd/level.hpp: generic, avx2 or avx512), chosen at run time, so a program built with
// no -m flag is as fast as one built for its machine.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "pnn/device/cache_aligned.hpp"
#include "pnn/device/cpu_gemm.hpp"
#include "pnn/device/device.hpp"
#include "pnn/error.hpp"
#include "pnn/nn/functions.hpp"
#include "pnn/simd/apply.hpp"
#include "pnn/simd/level.hpp"
#include "pnn/util/matrix_ref.hpp"

// OpenBLAS's thread control, weak so that pnn links with any cblas (BLIS, netlib) too.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace pnn {

struct Cpu {
    // Rows per block are chosen so that one block of input rows stays in cache between the
    // forward product that reads it and the gradient product that reads it again: one pass over
    // the data per iteration instead of two. 256 KiB of input per block measured best on a
    // 1 MiB-L2 machine (benchmarks/RESULTS.md).
    std::size_t block_bytes = 256 * 1024;

    // (on whole cache lines: pnn/device/cache_aligned.hpp says why)
    template <class T>
    using buffer = xt::xtensor<T, 1, xt::layout_type::row_major, detail::cache_aligned_allocator<T>>;

    // Buffers live in host memory: a communicator reads and writes them in place.
    static constexpr bool host_memory = true;
    template <class T>
    using host_buffer = std::vector<T>;

    // Nothing to record on a CPU: the kernels of a step are plain calls (see D::Replay in
    // pnn/device/device.hpp).
    struct Replay {
        template <class F>
        void run(const Cpu&, F&& f) {
            f();
        }
        void reset() {}
    };

    // Sets the BLAS thread count where the BLAS offers it (OpenBLAS); returns false elsewhere,
    // where OMP_NUM_THREADS or the BLAS's own variable decides.
    static bool set_threads(int threads) {
        if (!openblas_set_num_threads) return false;
        openblas_set_num_threads(threads);
        return true;
    }

    // Data already in host memory is where Cpu wants it: uploading is taking a view, no copy.
    template <class T>
    struct resident {
        MatrixRef<const T> ref;
        MatrixRef<const T> view() const { return ref; }
    };
    template <class T>
    resident<T> upload(MatrixRef<const T> host) const {
        return {host};
    }

    template <class T>
    buffer<T> make_buffer(std::size_t n) const {
        return buffer<T>::from_shape({n});
    }
    template <class T>
    T* data(buffer<T>& b) const {
        return b.data();
    }
    template <class T>
    std::size_t size(const buffer<T>& b) const {
        return b.size();
    }
    template <class T>
    void copy_in(T* dst, const T* src, std::size_t n) const {
        std::copy_n(src, n, dst);
    }
    template <class T>
    void copy_out(T* dst, const T* src, std::size_t n) const {
        std::copy_n(src, n, dst);
    }
    template <class T>
    void fill(T* p, std::size_t n, T value) const {
        std::fill_n(p, n, value);
    }

    template <class T>
    void add(T* p, const T* q, std::size_t n) const {
        map(fn::plus{}, p, n, p, q);
    }

    // weight_bytes: the first layer's weights. When they alone exceed the budget, no block of
    // rows survives in cache between the two products anyway (the weights and their gradient
    // pass through it in between), and blocks only split BLAS's products and re-read the
    // gradient: then a block holds 4 times as many rows. Measured (benchmarks/RESULTS.md):
    // Fashion-MNIST 784-256-10, batch 256, float32, 2.84 ms an iteration in 83-row blocks,
    // 2.57 in one 256-row block; full batch 5000 x 400, hidden 128-1024, no difference.
    std::size_t block_rows(std::size_t bytes_per_row, std::size_t weight_bytes) const {
        const std::size_t budget = weight_bytes > block_bytes ? 4 * block_bytes : block_bytes;
        return std::clamp<std::size_t>(budget / std::max<std::size_t>(bytes_per_row, 1), 16, 8192);
    }

    // Products with a narrow side (at most `narrow` columns of weights) against a long block of
    // rows go to pnn's own kernels (cpu_gemm.hpp); the rest to BLAS. 0 sends everything to BLAS.
    std::size_t narrow = 64;

    // C = α op(A) op(B) + β C, all row-major.
    template <class T>
    void gemm(bool trans_a, bool trans_b, T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta,
              MatrixRef<T> c) const {
        // The tests below ask for a few vectors of the widest level; narrower levels meet them
        // with room to spare.
        constexpr std::size_t w = 64 / sizeof(T);
        // A B^T with few columns of C and a long reduction: the forward product of a layer.
        if (!trans_a && trans_b && nt_kernel_takes<T>(b)) {
            T* s = scratch<T>(detail::packed_bt_size<T>(b.rows, b.cols));
            return simd::dispatch([&](auto width) {
                detail::gemm_nt<typename decltype(width)::template vec<T>>(alpha, a, b, beta, c, s);
            });
        }
        // A^T B with few rows of C and wide rows of B: the weight gradient δ^T a_prev.
        if (trans_a && !trans_b && c.rows <= narrow && c.cols >= 2 * w)
            return simd::dispatch([&](auto width) {
                detail::gemm_tn<typename decltype(width)::template vec<T>>(alpha, a, b, beta, c);
            });
        const auto k = static_cast<int>(trans_a ? a.rows : a.cols);
        const auto ta = trans_a ? CblasTrans : CblasNoTrans;
        const auto tb = trans_b ? CblasTrans : CblasNoTrans;
        const auto m = static_cast<int>(c.rows), n = static_cast<int>(c.cols);
        if (m == 0 || n == 0) return;
        if constexpr (std::is_same_v<T, double>)
            cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a.data, int(a.ld), b.data, int(b.ld), beta,
                        c.data, int(c.ld));
        else
            cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a.data, int(a.ld), b.data, int(b.ld), beta,
                        c.data, int(c.ld));
    }

    // The weights W of a pass's forward products, α A W^T + β C for every block of rows A, in
    // the form the level's product kernel reads: where that is W^T (cpu_gemm.hpp's broadcast
    // form: AVX2, SSE2), packed once per pass rather than once per block (a seventh of the
    // seed's forward product on a Zen 3). pack_weights must follow every change of W's values.
    template <class T>
    struct packed_weights {
        MatrixRef<const T> w;
        std::vector<T, detail::cache_aligned_allocator<T>> wt;  // W^T in pack_bt's panels
        int level = -1;                                         // the level wt is for; -1: none
    };
    template <class T>
    void pack_weights(packed_weights<T>& p, MatrixRef<const T> w) const {
        p.w = w;
        p.level = -1;
        if (!nt_kernel_takes<T>(w)) return;
        simd::dispatch([&](auto width) {
            using V = typename decltype(width)::template vec<T>;
            if constexpr (detail::nt_reads_packed_bt<V>) {
                p.wt.resize(detail::packed_bt_size<T>(w.rows, w.cols));  // (once: the shape is the layer's)
                detail::pack_bt<V>(w, p.wt.data());
                p.level = int(simd::active());
            }
        });
    }
    // α A W^T + β C, W as packed.
    template <class T>
    void gemm(T alpha, MatrixRef<const T> a, const packed_weights<T>& w, T beta, MatrixRef<T> c) const {
        if (w.level < 0 || w.level != int(simd::active())) return gemm(false, true, alpha, a, w.w, beta, c);
        simd::dispatch([&](auto width) {
            using V = typename decltype(width)::template vec<T>;
            if constexpr (detail::nt_reads_packed_bt<V>) detail::gemm_nt_packed<V>(alpha, a, w.wt.data(), beta, c);
        });
    }

    // Row 0 gets the (strided) bias, the others a copy of row 0.
    template <class T>
    void fill_rows(MatrixRef<T> z, VectorRef<const T> bias) const {
        if (z.rows == 0) return;
        for (std::size_t j = 0; j < z.cols; ++j) z.row(0)[j] = bias.data[j * bias.stride];
        for (std::size_t i = 1; i < z.rows; ++i) std::copy_n(z.row(0), z.cols, z.row(i));
    }

    // out[i] = f(in[i]...) for i < n, at the CPU's level: every elementwise formula of the
    // layers (a functor of pnn/nn/functions.hpp; out may be one of the inputs).
    template <class F, class T, class... In>
    void map(F f, T* out, std::size_t n, const In*... in) const {
        simd::dispatch([&](auto width) { simd::transform<typename decltype(width)::template vec<T>>(f, out, n, in...); });
    }

    template <class T>
    void sigmoid_output_delta(MatrixRef<T> z, const int* labels, double* cost_sum) const {
        T* p = dense(z);
        // J = Σ softplus(z) over every unit, minus z[i, y_i] once per sample (the one-hot term,
        // taken before σ overwrites z); then δ = σ(z) - onehot(y).
        double one_hot = 0, softplus_sum = 0;
        for (std::size_t i = 0; i < z.rows; ++i) one_hot += double(z.row(i)[labels[i]]);
        simd::dispatch([&](auto width) {
            using V = typename decltype(width)::template vec<T>;
            softplus_sum = simd::sum_of<V>(fn::softplus{}, p, z.size());
            simd::transform<V>(fn::sigmoid{}, p, z.size(), p);
        });
        for (std::size_t i = 0; i < z.rows; ++i) z.row(i)[labels[i]] -= T(1);
        *cost_sum += softplus_sum - one_hot;
    }

    // The softmax output's cost and delta, row by row. With M_i = max_k z_ik, every exponent
    // z_ik - M_i is <= 0 (no overflow for any logits) and the largest term of the row's sum is 1:
    //   *cost += Σ_i [log Σ_k e^(z_ik - M_i) - (z_{i,y_i} - M_i)]      (= -log softmax(z_i)[y_i])
    //   z_ik   = e^(z_ik - M_i) / Σ_j e^(z_ij - M_i) - [k = y_i]
    // The exponentials run over the whole block at the CPU's level; the per-row steps are short.
    template <class T>
    void softmax_output_delta(MatrixRef<T> z, const int* labels, double* cost_sum) const {
        T* p = dense(z);
        double cost = 0;
        for (std::size_t i = 0; i < z.rows; ++i) {
            T* row = z.row(i);
            const T top = *std::max_element(row, row + z.cols);
            for (std::size_t k = 0; k < z.cols; ++k) row[k] -= top;
            cost -= double(row[labels[i]]);
        }
        map(fn::exponential{}, p, z.size(), p);
        for (std::size_t i = 0; i < z.rows; ++i) {
            T* row = z.row(i);
            T sum = 0;
            for (std::size_t k = 0; k < z.cols; ++k) sum += row[k];
            cost += std::log(double(sum));
            for (std::size_t k = 0; k < z.cols; ++k) row[k] /= sum;
            row[labels[i]] -= T(1);
        }
        *cost_sum += cost;
    }

    // The bias column is strided: the rows are summed into contiguous scratch at the CPU's level
    // (row by row, a fixed order), which is then added to it once. (A loop straight into the
    // column cannot be vectorised: 2% of a Fashion-MNIST iteration. And xtensor 0.24's computed
    // assignment (+=) into a strided adaptor writes as if it were contiguous, seen in a test here.)
    template <class T>
    void add_column_sums(MatrixRef<const T> d, VectorRef<T> out) const {
        T* sums = scratch<T>(d.cols);
        std::fill_n(sums, d.cols, T(0));
        simd::dispatch([&](auto width) {
            using V = typename decltype(width)::template vec<T>;
            for (std::size_t i = 0; i < d.rows; ++i) simd::transform<V>(fn::plus{}, sums, d.cols, const_cast<const T*>(sums), d.row(i));
        });
        for (std::size_t j = 0; j < d.cols; ++j) out.data[j * out.stride] += sums[j];
    }

    template <class T>
    void gather_rows(MatrixRef<const T> x, const int* y, const std::size_t* index, MatrixRef<T> xb, int* yb) const {
        for (std::size_t r = 0; r < xb.rows; ++r) {
            std::copy_n(x.row(index[r]), x.cols, xb.row(r));
            yb[r] = y[index[r]];
        }
    }

    template <class T>
    void finish_gradient(T* g, const T* mask, const T* theta, std::size_t n, T inv_m, T lambda_over_m) const {
        map(fn::finish_gradient<T>{inv_m, lambda_over_m}, g, n, g, mask, theta);
    }

    // One update, fused (fn::sgd_update); mask null when there is no L2 term.
    template <class T>
    void sgd_step(T* theta, T* velocity, const T* g, const T* mask, std::size_t n, fn::sgd_update<T> f) const {
        simd::dispatch([&](auto width) {
            using V = typename decltype(width)::template vec<T>;
            if (mask) simd::update<V>(f, theta, velocity, n, g, mask, const_cast<const T*>(theta));
            else simd::update<V>(f, theta, velocity, n, g);
        });
    }

    // One Adam update, fused (fn::adam_update); mask null when there is neither L2 nor decay.
    template <class T>
    void adam_step(T* theta, T* m, T* v, const T* g, const T* mask, std::size_t n, fn::adam_update<T> f) const {
        simd::dispatch([&](auto width) {
            using V = typename decltype(width)::template vec<T>;
            if (mask) simd::update_three<V>(f, theta, m, v, n, g, mask);
            else simd::update_three<V>(f, theta, m, v, n, g);
        });
    }

    template <class T>
    double masked_sum_squares(const T* mask, const T* theta, std::size_t n) const {
        // the shared functor, in double: the L2 term of a float net should not lose digits to
        // its size
        double s = 0;
        for (std::size_t i = 0; i < n; ++i) s += fn::masked_square{}(double(mask[i]), double(theta[i]));
        return s;
    }

    template <class T>
    void argmax_rows(MatrixRef<const T> a, int* out) const {
        for (std::size_t i = 0; i < a.rows; ++i) out[i] = int(std::max_element(a.row(i), a.row(i) + a.cols) - a.row(i));
    }

    void synchronize() const {}

    std::size_t count_equal(const int* a, const int* b, std::size_t n) const {
        std::size_t c = 0;
        for (std::size_t i = 0; i < n; ++i) c += a[i] == b[i];
        return c;
    }

private:
    // Whether pnn's kernel computes A W^T (W: n_out x n_in weights), rather than BLAS.
    template <class T>
    bool nt_kernel_takes(MatrixRef<const T> w) const {
        constexpr std::size_t lanes = 64 / sizeof(T);
        return w.rows <= narrow && w.cols >= 4 * lanes;
    }

    // Aligned working memory for the kernels: grows to the largest request, then is reused, so
    // that no product allocates inside the training loop.
    mutable std::vector<std::byte> scratch_;
    template <class T>
    T* scratch(std::size_t elements) const {
        const std::size_t bytes = elements * sizeof(T) + 64;
        if (scratch_.size() < bytes) scratch_.resize(bytes);
        const auto at = reinterpret_cast<std::uintptr_t>(scratch_.data());
        return reinterpret_cast<T*>((at + 63) / 64 * 64);
    }

    // Every activation and delta block pnn allocates is dense: one loop over rows * cols values.
    template <class T>
    static T* dense(MatrixRef<T> m) {
        if (!m.contiguous()) detail::fail("internal: Cpu kernel given a strided block (ld ", m.ld, " != cols ", m.cols, ")");
        return m.data;
    }
};

static_assert(Device<Cpu>);

}  // namespace pnn
