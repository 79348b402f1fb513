// defines: pnn::Cpu, the device policy that trains on the host: buffers are xtensor containers,
// matrix products go to BLAS (cblas, OpenBLAS by default), the elementwise work is xtensor
// expressions over the shared functors of pnn/nn/functions.hpp (vectorised by xsimd when the
// build defines XTENSOR_USE_XSIMD).
#pragma once
#include <cblas.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "pnn/device/cpu_gemm.hpp"
#include "pnn/device/device.hpp"
#include "pnn/error.hpp"
#include "pnn/nn/functions.hpp"
#include "pnn/util/matrix_ref.hpp"

// OpenBLAS's thread control, weak so that pnn links with any cblas (BLIS, netlib) too.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace pnn {

namespace detail {
// A flat, non-owning xtensor view of n contiguous elements: the form in which xtensor assigns
// an expression with one linear (SIMD) loop. The pointer is handed over as an rvalue: given an
// lvalue, xt::adapt stores a reference to the pointer variable, which would dangle here.
template <class T>
auto flat(T* p, std::size_t n) {
    return xt::adapt(std::move(p), n, xt::no_ownership(), std::array<std::size_t, 1>{n});
}
// The same for a strided vector (a bias column inside a Theta matrix). xtensor 0.24 checks the
// adapted length against the element count (not the span the strides cover).
template <class T>
auto strided(VectorRef<T> v) {
    return xt::adapt(std::move(v.data), v.size, xt::no_ownership(),
                     std::array<std::size_t, 1>{v.size}, std::array<std::size_t, 1>{v.stride});
}
}  // namespace detail

struct Cpu {
    // Rows per block are chosen so that one block of input rows stays in cache between the
    // forward product that reads it and the gradient product that reads it again: one pass over
    // the data per iteration instead of two. 256 KiB of input per block measured best on a
    // 1 MiB-L2 machine (benchmarks/RESULTS.md).
    std::size_t block_bytes = 256 * 1024;

    template <class T>
    using buffer = xt::xtensor<T, 1>;

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
        xt::noalias(detail::flat(p, n)) += detail::flat(q, n);
    }

    std::size_t block_rows(std::size_t bytes_per_row) const {
        return std::clamp<std::size_t>(block_bytes / std::max<std::size_t>(bytes_per_row, 1), 16, 8192);
    }

    // Products with a narrow side (at most `narrow` columns of weights) against a long block of
    // rows go to pnn's own kernels (cpu_gemm.hpp); the rest to BLAS. 0 sends everything to BLAS.
    std::size_t narrow = 64;

    // C = α op(A) op(B) + β C, all row-major.
    template <class T>
    void gemm(bool trans_a, bool trans_b, T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta,
              MatrixRef<T> c) const {
        constexpr std::size_t w = detail::simd<T>::size;
        // A B^T with few columns of C and a long reduction: the forward product of a layer.
        if (!trans_a && trans_b && c.cols <= narrow && a.cols >= 4 * w)
            return detail::gemm_nt(alpha, a, b, beta, c, scratch<T>(detail::gemm_nt_scratch<T>(b.rows, b.cols)));
        // A^T B with few rows of C and wide rows of B: the weight gradient δ^T a_prev.
        if (trans_a && !trans_b && c.rows <= narrow && c.cols >= 2 * w) return detail::gemm_tn(alpha, a, b, beta, c);
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

    template <class T>
    void fill_rows(MatrixRef<T> z, VectorRef<const T> bias) const {
        auto b = detail::strided(bias);
        for (std::size_t i = 0; i < z.rows; ++i) xt::noalias(detail::flat(z.row(i), z.cols)) = b;
    }

    template <class T>
    void sigmoid(MatrixRef<T> z) const {
        auto a = dense(z);
        xt::noalias(a) = xt::make_lambda_xfunction(fn::sigmoid{}, a);
    }

    template <class T>
    void output_delta(MatrixRef<T> z, const int* labels, double* cost_sum) const {
        auto flat_z = dense(z);
        // J = Σ softplus(z) over every unit, minus z[i, y_i] once per sample (the one-hot term).
        double cost = sum(fn::softplus{}, flat_z.data(), flat_z.size());
        for (std::size_t i = 0; i < z.rows; ++i) cost -= double(z.row(i)[labels[i]]);
        xt::noalias(flat_z) = xt::make_lambda_xfunction(fn::sigmoid{}, flat_z);
        for (std::size_t i = 0; i < z.rows; ++i) z.row(i)[labels[i]] -= T(1);
        *cost_sum += cost;
    }

    template <class T>
    void times_sigmoid_grad(MatrixRef<T> d, MatrixRef<const T> a) const {
        auto fd = dense(d);
        xt::noalias(fd) = xt::make_lambda_xfunction(fn::times_sigmoid_grad{}, fd, dense(a));
    }

    // A plain loop: xtensor 0.24's computed assignment (+=) into a strided adaptor writes as if
    // it were contiguous (seen in a test here), and the bias column is strided.
    template <class T>
    void add_column_sums(MatrixRef<const T> d, VectorRef<T> out) const {
        for (std::size_t i = 0; i < d.rows; ++i) {
            const T* row = d.row(i);
            for (std::size_t j = 0; j < d.cols; ++j) out.data[j * out.stride] += row[j];
        }
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
        auto fg = detail::flat(g, n);
        xt::noalias(fg) = xt::make_lambda_xfunction(fn::finish_gradient<T>{{}, inv_m, lambda_over_m}, fg,
                                                    detail::flat(mask, n), detail::flat(theta, n));
    }

    template <class T>
    void momentum_step(T* theta, T* velocity, const T* g, std::size_t n, T momentum, T learning_rate) const {
        auto v = detail::flat(velocity, n);
        auto th = detail::flat(theta, n);
        xt::noalias(v) = xt::make_lambda_xfunction(fn::momentum_velocity<T>{{}, momentum, learning_rate}, v,
                                                   detail::flat(g, n));
        xt::noalias(th) += v;
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
    // Σ f(x_i) over n contiguous values, on xsimd batches: the shared functor evaluated on
    // vectors, without the temporary that an xtensor reduction would allocate.
    template <class F, class T>
    static double sum(F f, const T* x, std::size_t n) {
        std::size_t i = 0;
        double s = 0;
#if PNN_SIMD_FUNCTORS
        using B = detail::simd<T>;
        B acc(T(0));
        for (; i + B::size <= n; i += B::size) acc += f(B::load_unaligned(x + i));
        s = double(xsimd::hadd(acc));
#endif
        for (; i < n; ++i) s += double(f(x[i]));
        return s;
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

    // Every activation and delta block pnn allocates is dense; the flat view is what lets
    // xtensor run one SIMD loop over it.
    template <class T>
    static auto dense(MatrixRef<T> m) {
        if (!m.contiguous()) detail::fail("internal: Cpu kernel given a strided block (ld ", m.ld, " != cols ", m.cols, ")");
        return detail::flat(m.data, m.size());
    }
};

static_assert(Device<Cpu>);

}  // namespace pnn
