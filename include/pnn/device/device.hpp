// defines: the pnn::Device concept, what a device policy (pnn::Cpu, pnn::Cuda) must offer.
//
// A device owns where numbers live and how the kernels of one training step run on them. The
// Trainer and the layers (pnn/nn/backprop.hpp) are written once against this interface: they say
// *what* to compute on which views, the device decides *how*. Every matrix argument is a
// MatrixRef into the device's own memory; every scalar result (a cost, a count) comes back to the
// host, and nothing else does inside the training loop.
//
// D::host_memory says whether buffers are host memory (Cpu) or not (Cuda): where not, the
// Trainer stages what a communicator must read through a D::host_buffer<T> (pinned for Cuda).
//
// Data: upload(host view) returns an object whose view() is the same matrix in device memory
// (for Cpu the host view itself, no copy); make_buffer<T>(n) allocates n elements there.
//
// The kernels, with shapes (B = rows of a block, n = units in, k = units out):
//   gemm(ta, tb, α, A, B, β, C)       C = α op(A) op(B) + β C
//   pack_weights(p, W)                p holds weights W (k x n) for a pass's forward products, in
//                                     whatever form the device multiplies fastest (Cpu: W^T
//                                     packed at some levels); again after W's values change
//   gemm(α, A, p, β, C)               C = α A W^T + β C, W as packed in p
//   fill_rows(Z, b)                   every row of Z (B x k) = bias b (k, strided)
//   map(f, out, n, in...)             out[i] = f(in[i]...), i < n, for a functor f of
//                                     pnn/nn/functions.hpp and one or two inputs (out may be one):
//                                     the hidden units and their derivatives (a = σ(z), δ ⊙ a(1-a), ...)
//   sigmoid_output_delta(Z, y, c)     Z holds z of the output layer; afterwards σ(z) - onehot(y),
//                                     and *c += Σ_i Σ_k softplus(z_ik) - z_{i,y_i}: c is one
//                                     double in device memory, read when the caller wants it
//   softmax_output_delta(Z, y, c)     the same for a softmax output: Z becomes softmax(z) -
//                                     onehot(y), *c += Σ_i -log softmax(z_i)[y_i] (a row kernel:
//                                     each row's maximum and sum of exponentials)
//   add_column_sums(D, g)             g += Σ_rows D (the bias gradient; g strided)
//   gather_rows(X, y, idx, Xb, yb)    Xb row r = X row idx[r], yb[r] = y[idx[r]]
//   finish_gradient(g, mask, θ, ...)  g = g / m + (λ/m) mask θ           (whole buffer)
//   sgd_step(θ, v, g, mask, n, f)     v = μ v - η (g / m + (λ/m) mask θ); θ += v, in one pass
//                                     (fn::sgd_update; mask null: no L2 term)
//   adam_step(θ, m, v, g, mask, n, f) one Adam(W) update of θ and both moments, in one pass
//                                     (fn::adam_update; mask null: neither L2 nor decay)
//   masked_sum_squares(mask, θ)       Σ mask θ²
//   argmax_rows(A, out)               out[i] = first index of the row maximum
//   count_equal(a, b, n)              #{i : a[i] == b[i]}
//
// D::Replay, for work repeated unchanged on the same buffers (a full-batch step): r.run(d, f)
// calls f, which only queues kernels; where the device can, it records them once and later
// calls replay the record instead of calling f (Cuda: a CUDA graph, one launch for the dozens
// of kernels of a step). r.reset() forgets the record.
#pragma once
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "pnn/nn/functions.hpp"
#include "pnn/util/matrix_ref.hpp"

namespace pnn {

template <class D, class T>
concept DeviceFor = requires(D d, typename D::template buffer<T>& buf,
                             MatrixRef<T> m, MatrixRef<const T> cm, VectorRef<T> v, VectorRef<const T> cv,
                             T* p, const T* cp, const int* labels, int* out, const std::size_t* idx, std::size_t n,
                             T s, double* c, typename D::template packed_weights<T>& packed) {
    { d.upload(cm).view() } -> std::same_as<MatrixRef<const T>>;  // host matrix -> device
    { d.template make_buffer<T>(n) } -> std::same_as<typename D::template buffer<T>>;
    { d.data(buf) } -> std::same_as<T*>;
    { d.size(buf) } -> std::same_as<std::size_t>;
    d.copy_in(p, cp, n);   // host -> device
    d.copy_out(p, cp, n);  // device -> host
    d.fill(p, n, s);
    d.add(p, cp, n);  // p += cp, elementwise
    { d.block_rows(n, n) } -> std::convertible_to<std::size_t>;  // rows of n bytes, first weights of n bytes
    d.gemm(false, true, s, cm, cm, s, m);
    d.pack_weights(packed, cm);
    d.gemm(s, cm, packed, s, m);
    d.fill_rows(m, cv);
    d.map(fn::sigmoid{}, p, n, cp);
    d.map(fn::times_sigmoid_grad{}, p, n, p, cp);
    d.sigmoid_output_delta(m, labels, c);
    d.softmax_output_delta(m, labels, c);
    d.add_column_sums(cm, v);
    d.gather_rows(cm, labels, idx, m, out);
    d.finish_gradient(p, cp, cp, n, s, s);
    d.sgd_step(p, p, cp, cp, n, fn::sgd_update<T>{{s, s}, {s, s}});
    d.adam_step(p, p, p, cp, cp, n, fn::adam_update<T>{{s, s}, s, s, s, s, s, s, s, s});
    { d.masked_sum_squares(cp, cp, n) } -> std::same_as<double>;
    d.argmax_rows(cm, out);
    { d.count_equal(labels, labels, n) } -> std::same_as<std::size_t>;
    d.synchronize();  // waits for queued kernels (to time stages); a no-op where work is synchronous
};

// A device policy: offers every kernel for both element types pnn trains in.
template <class D>
concept Device = DeviceFor<D, float> && DeviceFor<D, double> && requires(D d, std::size_t n, typename D::Replay r, void (*queue_kernels)()) {
    { D::host_memory } -> std::convertible_to<bool>;
    r.run(d, queue_kernels);
    r.reset();
    // labels and sample indices live on the device too
    { d.template make_buffer<int>(n) } -> std::same_as<typename D::template buffer<int>>;
    { d.upload(MatrixRef<const int>{}).view() } -> std::same_as<MatrixRef<const int>>;
    { d.template make_buffer<std::size_t>(n) } -> std::same_as<typename D::template buffer<std::size_t>>;
    { d.template make_buffer<double>(n) } -> std::same_as<typename D::template buffer<double>>;
};

}  // namespace pnn
