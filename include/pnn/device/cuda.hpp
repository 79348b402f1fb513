// defines: pnn::Cuda, the device policy that trains on an NVIDIA GPU: buffers are Thrust device
// vectors, matrix products go to cuBLAS (one handle per Cuda object, shared by its copies), and
// the elementwise work runs as Thrust algorithms over the same functors the Cpu policy uses
// (pnn/nn/functions.hpp, __host__ __device__ under nvcc).
//
// Only under nvcc: with another compiler this header defines nothing, and pnn.hpp does not offer
// pnn::Cuda. Everything stays on the GPU between iterations; the only values that cross the bus
// inside the training loop are the scalar results the Device concept returns (a block's cost,
// the L2 term, a count of correct predictions).
//
// Every CUDA, cuBLAS and Thrust call is checked; a failure raises pnn::error naming the call.
#pragma once
#if defined(__CUDACC__)
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system_error.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <cstddef>
#include <map>
#include <memory>
#include <tuple>
#include <type_traits>
#include <vector>

#include "pnn/device/device.hpp"
#include "pnn/error.hpp"
#include "pnn/nn/functions.hpp"
#include "pnn/util/matrix_ref.hpp"

namespace pnn {

namespace detail {

inline void cuda_check(cudaError_t status, const char* call) {
    if (status != cudaSuccess) fail(call, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
}

inline void cublas_check(cublasStatus_t status, const char* call) {
    if (status != CUBLAS_STATUS_SUCCESS) fail(call, " failed: ", cublasGetStatusName(status), " (", cublasGetStatusString(status), ")");
}

// Runs a Thrust algorithm; its errors (thrown as thrust::system_error, or a bad_alloc for device
// memory) become pnn::error naming the kernel.
template <class F>
auto thrust_call(const char* what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const thrust::system_error& e) {
        fail("Thrust (", what, ") failed: ", e.what());
    } catch (const std::bad_alloc& e) {
        fail("Thrust (", what, ") could not allocate device memory: ", e.what());
    }
}

// The kernels' element functors: each is one thread's work on element (or row) i, reading and
// writing through raw device pointers; the math itself comes from pnn::fn.
namespace cuda_kernels {

template <class T>
struct fill_rows {  // z[i, j] = b[j]
    T* z;
    const T* b;
    std::size_t cols, ld, stride;
    __device__ void operator()(std::size_t e) const {
        const std::size_t i = e / cols, j = e % cols;
        z[i * ld + j] = b[j * stride];
    }
};

template <class T>
struct gather_rows {  // xb[r, j] = x[index[r], j]
    const T* x;
    const std::size_t* index;
    T* xb;
    std::size_t cols, ld, ldb;
    __device__ void operator()(std::size_t e) const {
        const std::size_t r = e / cols, j = e % cols;
        xb[r * ldb + j] = x[index[r] * ld + j];
    }
};

struct gather_labels {
    const int* y;
    const std::size_t* index;
    int* yb;
    __device__ void operator()(std::size_t r) const { yb[r] = y[index[r]]; }
};

template <class T>
struct finish_gradient {
    T* g;
    const T* mask;
    const T* theta;
    fn::finish_gradient<T> f;
    __device__ void operator()(std::size_t i) const { g[i] = f(g[i], mask[i], theta[i]); }
};

template <class T>
struct sgd_step {
    T* theta;
    T* v;
    const T* g;
    const T* mask;  // null: no L2 term
    fn::sgd_update<T> f;
    __device__ void operator()(std::size_t i) const {
        v[i] = mask ? f.velocity(v[i], g[i], mask[i], theta[i]) : f.velocity(v[i], g[i]);
        theta[i] += v[i];
    }
};

template <class T>
struct adam_step {
    T* theta;
    T* m;
    T* v;
    const T* g;
    const T* mask;  // null: neither L2 nor decay
    fn::adam_update<T> f;
    __device__ void operator()(std::size_t i) const {
        if (mask) f(theta[i], m[i], v[i], g[i], mask[i]);
        else f(theta[i], m[i], v[i], g[i]);
    }
};

template <class T>
struct masked_square {
    const T* mask;
    const T* theta;
    __device__ double operator()(std::size_t i) const { return fn::masked_square{}(double(mask[i]), double(theta[i])); }
};

template <class T>
struct argmax_row {  // the first index of row i's maximum
    const T* a;
    int* out;
    std::size_t cols, ld;
    __device__ void operator()(std::size_t i) const {
        const T* row = a + i * ld;
        std::size_t best = 0;
        for (std::size_t j = 1; j < cols; ++j)
            if (row[j] > row[best]) best = j;
        out[i] = int(best);
    }
};

struct equal_at {
    const int* a;
    const int* b;
    __device__ std::size_t operator()(std::size_t i) const { return a[i] == b[i] ? 1 : 0; }
};

// The output layer's cost and delta in one pass: each thread takes elements e of z (grid-stride),
// adds softplus(z) - (j == y_i ? z : 0) to its sum in double and turns z into σ(z) - onehot;
// each block's sum goes to partial[block]. The grid is fixed by the element count alone, so the
// sums are added in the same order every run: the cost is reproducible bit for bit.
constexpr int reduce_threads = 256, reduce_blocks = 1024;

// partial[block] = the sum of every thread's `sum` in this block, in a fixed tree order.
__device__ inline void block_sum(double sum, double* partial) {
    __shared__ double sums[reduce_threads];
    sums[threadIdx.x] = sum;
    __syncthreads();
    for (int half = reduce_threads / 2; half > 0; half /= 2) {
        if (int(threadIdx.x) < half) sums[threadIdx.x] += sums[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sums[0];
}

template <class T>
__global__ void sigmoid_output_delta(T* z, const int* y, std::size_t rows, std::size_t cols, std::size_t ld, double* partial) {
    double sum = 0;
    const std::size_t n = rows * cols;
    for (std::size_t e = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += std::size_t(gridDim.x) * blockDim.x) {
        const std::size_t i = e / cols, j = e % cols;
        T& v = z[i * ld + j];
        const bool label = int(j) == y[i];
        sum += double(fn::softplus{}(v)) - (label ? double(v) : 0.0);
        v = fn::sigmoid{}(v) - (label ? T(1) : T(0));
    }
    block_sum(sum, partial);
}

// The softmax output, one thread per row (grid-stride; an output layer is a few units wide):
// the row's maximum M, e^(z - M) (every exponent <= 0), their sum s; the cost adds
// log s - (z_y - M), and z becomes e^(z - M) / s - onehot(y). As in Cpu::softmax_output_delta.
template <class T>
__global__ void softmax_output_delta(T* z, const int* y, std::size_t rows, std::size_t cols, std::size_t ld, double* partial) {
    double sum = 0;
    for (std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += std::size_t(gridDim.x) * blockDim.x) {
        T* row = z + i * ld;
        T top = row[0];
        for (std::size_t k = 1; k < cols; ++k) top = row[k] > top ? row[k] : top;
        const T label_logit = row[y[i]] - top;
        T s = 0;
        for (std::size_t k = 0; k < cols; ++k) {
            row[k] = fn::exponential{}(T(row[k] - top));
            s += row[k];
        }
        sum += log(double(s)) - double(label_logit);
        for (std::size_t k = 0; k < cols; ++k) row[k] /= s;
        row[y[i]] -= T(1);
    }
    block_sum(sum, partial);
}

// *total += Σ partial[0..count), in one block, in a fixed order.
__global__ inline void add_partials(const double* partial, int count, double* total) {
    __shared__ double sums[reduce_threads];
    double sum = 0;
    for (int b = int(threadIdx.x); b < count; b += reduce_threads) sum += partial[b];
    sums[threadIdx.x] = sum;
    __syncthreads();
    for (int half = reduce_threads / 2; half > 0; half /= 2) {
        if (int(threadIdx.x) < half) sums[threadIdx.x] += sums[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) *total += sums[0];
}

}  // namespace cuda_kernels

// Scratch device memory for Thrust's reductions. By default each reduction cudaMallocs and frees
// its scratch, and both calls synchronise the whole device; this keeps freed blocks for reuse,
// so that after the first iteration the training loop allocates nothing.
class ScratchCache {
public:
    using value_type = char;
    ScratchCache() = default;
    ScratchCache(const ScratchCache&) = delete;
    ScratchCache& operator=(const ScratchCache&) = delete;
    ~ScratchCache() {
        for (auto& [size, p] : free_) cudaFree(p);
        for (auto& [p, size] : used_) cudaFree(p);
    }
    char* allocate(std::ptrdiff_t n) {
        const auto want = std::size_t(n);
        char* p = nullptr;
        if (auto it = free_.lower_bound(want); it != free_.end() && it->first <= 2 * want + 4096) {
            p = it->second;
            used_[p] = it->first;
            free_.erase(it);
            return p;
        }
        cuda_check(cudaMalloc(reinterpret_cast<void**>(&p), want), "cudaMalloc (reduction scratch)");
        used_[p] = want;
        return p;
    }
    void deallocate(char* p, std::size_t) {
        const auto it = used_.find(p);
        if (it == used_.end()) return;
        free_.emplace(it->second, p);
        used_.erase(it);
    }

private:
    std::multimap<std::size_t, char*> free_;  // by size
    std::map<char*, std::size_t> used_;
};
}  // namespace detail

// Page-locked host memory: copies to and from it run at the bus's full rate (the staging buffer
// through which an MPI that is not CUDA-aware reads the gradient).
template <class T>
struct PinnedAllocator {
    using value_type = T;
    PinnedAllocator() = default;
    template <class U>
    PinnedAllocator(const PinnedAllocator<U>&) {}
    T* allocate(std::size_t n) {
        void* p = nullptr;
        detail::cuda_check(cudaMallocHost(&p, n * sizeof(T)), "cudaMallocHost");
        return static_cast<T*>(p);
    }
    void deallocate(T* p, std::size_t) { cudaFreeHost(p); }
    template <class U>
    bool operator==(const PinnedAllocator<U>&) const {
        return true;
    }
};

class Cuda {
    // What copies of one Cuda share: the stream every kernel and copy of pnn goes to (its own,
    // so that a step can be recorded as a CUDA graph), the cuBLAS handle and its workspace, the
    // reductions' scratch.
    struct Shared {
        cudaStream_t stream = nullptr;
        cublasHandle_t blas = nullptr;
        void* workspace = nullptr;
        detail::ScratchCache scratch;
        ~Shared() {
            if (blas) cublasDestroy(blas);
            if (workspace) cudaFree(workspace);
            if (stream) cudaStreamDestroy(stream);
        }
    };
    std::shared_ptr<Shared> shared_;

    // Thrust's policies on pnn's stream, with the scratch cache: `queued` returns before
    // the kernel ends (kernels on one stream run in order; synchronize() or a reduction's result
    // waits for them), `blocking` for the reductions, whose result the host reads.
    auto queued() const { return thrust::cuda::par_nosync(shared_->scratch).on(shared_->stream); }
    auto blocking() const { return thrust::cuda::par(shared_->scratch).on(shared_->stream); }

public:
    template <class T>
    using buffer = thrust::device_vector<T>;

    // Device memory is not the host's: the Trainer stages what a communicator must read.
    static constexpr bool host_memory = false;
    template <class T>
    using host_buffer = std::vector<T, PinnedAllocator<T>>;

    // The number of CUDA devices here (0 where there is no driver or no GPU).
    static int device_count() {
        int n = 0;
        return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
    }

    // Trains on GPU `device` (a rank's local rank, say), or on the current one when -1.
    explicit Cuda(int device = -1) {
        if (device_count() == 0) detail::fail("pnn::Cuda: expected a CUDA device, found none (cudaGetDeviceCount)");
        if (device >= 0) detail::cuda_check(cudaSetDevice(device), "cudaSetDevice");
        detail::cuda_check(cudaFree(nullptr), "creating the CUDA context (cudaFree(0))");
        detail::cuda_check(cudaGetDevice(&device_), "cudaGetDevice");
        shared_ = std::make_shared<Shared>();
        // A blocking stream: it waits for work on the legacy default stream (Thrust's vector
        // allocations and fills) and that waits for it, so ordering needs no extra care.
        detail::cuda_check(cudaStreamCreate(&shared_->stream), "cudaStreamCreate");
        detail::cublas_check(cublasCreate(&shared_->blas), "cublasCreate");
        detail::cublas_check(cublasSetStream(shared_->blas, shared_->stream), "cublasSetStream");
        // cuBLAS's workspace given up front: nothing is allocated while a step is recorded.
        detail::cuda_check(cudaMalloc(&shared_->workspace, workspace_bytes), "cudaMalloc (cuBLAS workspace)");
        detail::cublas_check(cublasSetWorkspace(shared_->blas, shared_->workspace, workspace_bytes), "cublasSetWorkspace");
        // Full-precision float products (no TF32): float must agree with Cpu to 1e-5.
        detail::cublas_check(cublasSetMathMode(shared_->blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        buffers_ = std::make_shared<KernelBuffers>();
        buffers_->partials = make_buffer<double>(detail::cuda_kernels::reduce_blocks);
    }

    int device() const { return device_; }
    cudaStream_t stream() const { return shared_->stream; }

    // Records the kernels of a repeated step as a CUDA graph and replays it: the first run calls
    // f as it is (allocations it makes on first use happen then), the second records what f
    // queues on pnn's stream and launches the record, later runs launch the record alone.
    class Replay {
    public:
        template <class F>
        void run(const Cuda& gpu, F&& f) {
            if (runs_++ == 0) return f();
            if (!graph_) graph_ = record(gpu.stream(), f);
            detail::cuda_check(cudaGraphLaunch(graph_.get(), gpu.stream()), "cudaGraphLaunch");
        }
        void reset() {
            graph_.reset();
            runs_ = 0;
        }

    private:
        template <class F>
        static std::shared_ptr<CUgraphExec_st> record(cudaStream_t stream, F& f) {
            // Thread-local capture: a call in this thread that would wait for the device (which
            // a recorded step must not contain) fails instead of being recorded wrong.
            detail::cuda_check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
            cudaGraph_t graph = nullptr;
            try {
                f();
            } catch (...) {
                cudaStreamEndCapture(stream, &graph);
                if (graph) cudaGraphDestroy(graph);
                throw;
            }
            detail::cuda_check(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture");
            cudaGraphExec_t exec = nullptr;
            const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
            cudaGraphDestroy(graph);
            detail::cuda_check(made, "cudaGraphInstantiate");
            return std::shared_ptr<CUgraphExec_st>(exec, [](cudaGraphExec_t e) { cudaGraphExecDestroy(e); });
        }
        std::shared_ptr<CUgraphExec_st> graph_;
        std::size_t runs_ = 0;
    };

    // A dataset (or labels) copied to the GPU once; view() is its device matrix.
    template <class T>
    struct resident {
        buffer<std::remove_const_t<T>> data;
        MatrixRef<const T> ref;
        MatrixRef<const T> view() const { return ref; }
    };
    template <class T>
    resident<T> upload(MatrixRef<const T> host) const {
        resident<T> r;
        if (host.rows == 0 || host.cols == 0) return r;
        r.data = make_buffer<T>(host.rows * host.cols);
        T* d = thrust::raw_pointer_cast(r.data.data());
        if (host.contiguous())
            copy_in(d, host.data, host.size());
        else
            detail::cuda_check(cudaMemcpy2DAsync(d, host.cols * sizeof(T), host.data, host.ld * sizeof(T),
                                                 host.cols * sizeof(T), host.rows, cudaMemcpyHostToDevice, stream()),
                               "cudaMemcpy2DAsync (upload)");
        synchronize();
        r.ref = {d, host.rows, host.cols};
        return r;
    }

    template <class T>
    buffer<T> make_buffer(std::size_t n) const {
        return detail::thrust_call("allocating a device buffer", [&] { return buffer<T>(n); });
    }
    template <class T>
    T* data(buffer<T>& b) const {
        return thrust::raw_pointer_cast(b.data());
    }
    template <class T>
    std::size_t size(const buffer<T>& b) const {
        return b.size();
    }
    template <class T>
    void copy_in(T* dst, const T* src, std::size_t n) const {
        copy(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, "cudaMemcpyAsync (host to device)");
    }
    template <class T>
    void copy_out(T* dst, const T* src, std::size_t n) const {
        copy(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, "cudaMemcpyAsync (device to host)");
    }
    template <class T>
    void fill(T* p, std::size_t n, T value) const {
        detail::thrust_call("fill", [&] { thrust::fill_n(queued(), p, n, value); });
    }
    template <class T>
    void add(T* p, const T* q, std::size_t n) const {
        detail::thrust_call("add", [&] { thrust::transform(queued(), p, p + n, q, p, thrust::plus<T>()); });
    }

    // One block is the whole batch, up to this many rows: a GPU wants all the rows at once, and
    // each block returns its cost to the host (one synchronisation per block).
    std::size_t max_block_rows = std::size_t(1) << 16;
    std::size_t block_rows(std::size_t, std::size_t) const { return max_block_rows; }

    // C = α op(A) op(B) + β C, all row-major. cuBLAS is column-major, where a row-major matrix
    // reads as its transpose: C^T = op(B)^T op(A)^T, so B and A swap places.
    template <class T>
    void gemm(bool trans_a, bool trans_b, T alpha, MatrixRef<const T> a, MatrixRef<const T> b, T beta,
              MatrixRef<T> c) const {
        const int m = int(c.rows), n = int(c.cols), k = int(trans_a ? a.rows : a.cols);
        if (m == 0 || n == 0) return;
        const auto ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
        if constexpr (std::is_same_v<T, double>)
            detail::cublas_check(cublasDgemm(shared_->blas, tb, ta, n, m, k, &alpha, b.data, int(b.ld), a.data, int(a.ld),
                                             &beta, c.data, int(c.ld)),
                                 "cublasDgemm");
        else
            detail::cublas_check(cublasSgemm(shared_->blas, tb, ta, n, m, k, &alpha, b.data, int(b.ld), a.data, int(a.ld),
                                             &beta, c.data, int(c.ld)),
                                 "cublasSgemm");
    }

    // A pass's forward weights (see pnn::Cpu::packed_weights): cuBLAS reads them as they lie.
    template <class T>
    struct packed_weights {
        MatrixRef<const T> w;
    };
    template <class T>
    void pack_weights(packed_weights<T>& p, MatrixRef<const T> w) const {
        p.w = w;
    }
    template <class T>
    void gemm(T alpha, MatrixRef<const T> a, const packed_weights<T>& w, T beta, MatrixRef<T> c) const {
        gemm(false, true, alpha, a, w.w, beta, c);
    }

    template <class T>
    void fill_rows(MatrixRef<T> z, VectorRef<const T> bias) const {
        for_each_index("fill_rows", z.size(), detail::cuda_kernels::fill_rows<T>{z.data, bias.data, z.cols, z.ld, bias.stride});
    }

    // out[i] = f(in[i]...) for i < n, one or two inputs, as a Thrust transform over the shared
    // functor (out may be one of the inputs).
    template <class F, class T, class... In>
    void map(F f, T* out, std::size_t n, const In*... in) const {
        static_assert(sizeof...(In) == 1 || sizeof...(In) == 2, "Cuda::map takes one or two inputs");
        if (n == 0) return;
        const auto inputs = std::make_tuple(in...);
        detail::thrust_call("map", [&] {
            const auto* first = std::get<0>(inputs);
            if constexpr (sizeof...(In) == 1) thrust::transform(queued(), first, first + n, out, f);
            else thrust::transform(queued(), first, first + n, std::get<1>(inputs), out, f);
        });
    }

    // *cost += Σ softplus(z) - z[i, y_i], and z becomes σ(z) - onehot(y): one kernel over the
    // elements, and one to add its per-block sums to *cost (device memory); nothing crosses the bus.
    template <class T>
    void sigmoid_output_delta(MatrixRef<T> z, const int* labels, double* cost) const {
        output_kernel(z.size(), cost, "sigmoid_output_delta", [&](int blocks, double* partials) {
            detail::cuda_kernels::sigmoid_output_delta<T><<<blocks, detail::cuda_kernels::reduce_threads, 0, stream()>>>(
                z.data, labels, z.rows, z.cols, z.ld, partials);
        });
    }

    // The same for a softmax output (Cpu::softmax_output_delta has the math): one thread per row.
    template <class T>
    void softmax_output_delta(MatrixRef<T> z, const int* labels, double* cost) const {
        output_kernel(z.rows, cost, "softmax_output_delta", [&](int blocks, double* partials) {
            detail::cuda_kernels::softmax_output_delta<T><<<blocks, detail::cuda_kernels::reduce_threads, 0, stream()>>>(
                z.data, labels, z.rows, z.cols, z.ld, partials);
        });
    }

    // out += Σ_rows d, as one cuBLAS matrix-vector product with a vector of ones: d read
    // column-major is d^T (cols x rows), and d^T 1 is the column sums; out is strided.
    template <class T>
    void add_column_sums(MatrixRef<const T> d, VectorRef<T> out) const {
        if (d.rows == 0 || d.cols == 0) return;
        const T* one = ones<T>(d.rows);
        const T alpha = 1, beta = 1;
        if constexpr (std::is_same_v<T, double>)
            detail::cublas_check(cublasDgemv(shared_->blas, CUBLAS_OP_N, int(d.cols), int(d.rows), &alpha, d.data, int(d.ld),
                                             one, 1, &beta, out.data, int(out.stride)),
                                 "cublasDgemv");
        else
            detail::cublas_check(cublasSgemv(shared_->blas, CUBLAS_OP_N, int(d.cols), int(d.rows), &alpha, d.data, int(d.ld),
                                             one, 1, &beta, out.data, int(out.stride)),
                                 "cublasSgemv");
    }

    template <class T>
    void gather_rows(MatrixRef<const T> x, const int* y, const std::size_t* index, MatrixRef<T> xb, int* yb) const {
        for_each_index("gather_rows", xb.size(), detail::cuda_kernels::gather_rows<T>{x.data, index, xb.data, x.cols, x.ld, xb.ld});
        for_each_index("gather_rows (labels)", xb.rows, detail::cuda_kernels::gather_labels{y, index, yb});
    }

    template <class T>
    void finish_gradient(T* g, const T* mask, const T* theta, std::size_t n, T inv_m, T lambda_over_m) const {
        for_each_index("finish_gradient", n,
                       detail::cuda_kernels::finish_gradient<T>{g, mask, theta, {inv_m, lambda_over_m}});
    }

    template <class T>
    void sgd_step(T* theta, T* velocity, const T* g, const T* mask, std::size_t n, fn::sgd_update<T> f) const {
        for_each_index("sgd_step", n, detail::cuda_kernels::sgd_step<T>{theta, velocity, g, mask, f});
    }

    template <class T>
    void adam_step(T* theta, T* m, T* v, const T* g, const T* mask, std::size_t n, fn::adam_update<T> f) const {
        for_each_index("adam_step", n, detail::cuda_kernels::adam_step<T>{theta, m, v, g, mask, f});
    }

    template <class T>
    double masked_sum_squares(const T* mask, const T* theta, std::size_t n) const {
        return detail::thrust_call("masked_sum_squares", [&] {
            return thrust::transform_reduce(blocking(), thrust::counting_iterator<std::size_t>(0),
                                            thrust::counting_iterator<std::size_t>(n),
                                            detail::cuda_kernels::masked_square<T>{mask, theta}, 0.0, thrust::plus<double>());
        });
    }

    template <class T>
    void argmax_rows(MatrixRef<const T> a, int* out) const {
        for_each_index("argmax_rows", a.rows, detail::cuda_kernels::argmax_row<T>{a.data, out, a.cols, a.ld});
    }

    std::size_t count_equal(const int* a, const int* b, std::size_t n) const {
        return detail::thrust_call("count_equal", [&] {
            return thrust::transform_reduce(blocking(), thrust::counting_iterator<std::size_t>(0),
                                            thrust::counting_iterator<std::size_t>(n), detail::cuda_kernels::equal_at{a, b},
                                            std::size_t(0), thrust::plus<std::size_t>());
        });
    }

    void synchronize() const { detail::cuda_check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize"); }

private:
    static constexpr std::size_t workspace_bytes = std::size_t(32) << 20;  // what cuBLAS asks for on Hopper

    // A copy in pnn's stream order; returns when it is done (the host may reuse its side).
    void copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, const char* what) const {
        if (bytes == 0) return;
        detail::cuda_check(cudaMemcpyAsync(dst, src, bytes, kind, stream()), what);
        synchronize();
    }

    // Launches an output layer's kernel over n work items (launch(blocks, partials)), whose
    // blocks leave their cost sums in partials, then adds those to *cost in a fixed order. The
    // grid is fixed by n alone, so the cost is reproducible bit for bit.
    template <class Launch>
    void output_kernel(std::size_t n, double* cost, const char* what, Launch&& launch) const {
        namespace k = detail::cuda_kernels;
        if (n == 0) return;
        const int blocks = int(std::min<std::size_t>(k::reduce_blocks, (n + k::reduce_threads - 1) / k::reduce_threads));
        double* partials = thrust::raw_pointer_cast(buffers_->partials.data());
        launch(blocks, partials);
        detail::cuda_check(cudaGetLastError(), what);
        k::add_partials<<<1, k::reduce_threads, 0, stream()>>>(partials, blocks, cost);
        detail::cuda_check(cudaGetLastError(), what);
    }

    template <class F>
    void for_each_index(const char* what, std::size_t n, F f) const {
        if (n == 0) return;
        detail::thrust_call(what, [&] {
            thrust::for_each(queued(), thrust::counting_iterator<std::size_t>(0), thrust::counting_iterator<std::size_t>(n), f);
        });
    }

    // The elementwise kernels read a block as one flat range: pnn's activations are dense.
    template <class T>
    static T* dense(MatrixRef<T> m) {
        if (!m.contiguous()) detail::fail("internal: Cuda kernel given a strided block (ld ", m.ld, " != cols ", m.cols, ")");
        return m.data;
    }

    // A device vector of ones for add_column_sums, grown to the longest block and then reused, so
    // that nothing is allocated inside the training loop; shared by copies, like the stream.
    // (output_delta's per-block sums live here too.)
    struct KernelBuffers {
        buffer<float> f;
        buffer<double> d;
        buffer<double> partials;
    };
    template <class T>
    const T* ones(std::size_t n) const {
        buffer<T>& v = [&]() -> buffer<T>& {
            if constexpr (std::is_same_v<T, double>) return buffers_->d;
            else return buffers_->f;
        }();
        if (v.size() < n) detail::thrust_call("allocating ones", [&] { v.assign(n, T(1)); });
        return thrust::raw_pointer_cast(v.data());
    }

    int device_ = 0;
    std::shared_ptr<KernelBuffers> buffers_;
};

static_assert(Device<Cuda>);

}  // namespace pnn
#endif
