// defines: pnn::Backprop<Device, T>, forward and backward propagation of an Mlp over blocks of
// rows, written once against the Device concept, with every buffer it needs allocated up front.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "pnn/device/device.hpp"
#include "pnn/error.hpp"
#include "pnn/nn/layout.hpp"
#include "pnn/nn/units.hpp"
#include "pnn/train/stages.hpp"
#include "pnn/util/matrix_ref.hpp"

namespace pnn {

// Shapes, for a block of B rows and layer l mapping n = sizes[l] units to k = sizes[l+1]:
//   Theta_l = [b_l | W_l]               k x (1 + n), b_l the bias column
//   z_l     = a_{l-1} W_l^T + 1 b_l^T   B x k        (a_{-1} = the input rows)
//   a_l     = f_l(z_l)                  hidden layers: f_l = σ, tanh or relu (pnn/nn/units.hpp)
// Cost and output delta of the output layer L (the sums; the Trainer divides by m):
//   sigmoid  J = Σ_i Σ_k softplus(z_ik) - z_{i,y_i}     (the seed's cross-entropy)
//   softmax  J = Σ_i log Σ_k e^(z_ik) - z_{i,y_i}        (categorical cross-entropy)
//   δ_L     = a_L - onehot(y)               (a_L = σ(z_L), or softmax(z_L) row by row)
// Backward, layer by layer:
//   ∂J/∂W_l += δ_l^T a_{l-1}            k x n
//   ∂J/∂b_l += Σ_rows δ_l               k
//   δ_{l-1}  = (δ_l W_l) ⊙ f'_{l-1}(z_{l-1}), f' written through a_{l-1}: a(1-a), 1-a², [a > 0]
// A block's input rows are read by the first forward product and again by the last gradient
// product; with blocks sized to the cache (Device::block_rows) that is one pass over the data.
template <class D, class T>
class Backprop {
public:
    // hidden: one activation per hidden layer (layout.layers() - 1 of them).
    Backprop(D& device, const ThetaLayout& layout, std::vector<Activation> hidden, Output output)
        : dev_(&device),
          layout_(layout),
          hidden_(std::move(hidden)),
          output_(output),
          block_(device.block_rows(layout.sizes().front() * sizeof(T), layout.rows(0) * layout.cols(0) * sizeof(T))) {
        std::size_t widest_hidden = 1;
        for (std::size_t l = 1; l < sizes().size(); ++l) {
            acts_.push_back(dev_->template make_buffer<T>(block_ * sizes()[l]));
            if (l + 1 < sizes().size()) widest_hidden = std::max(widest_hidden, sizes()[l]);
        }
        for (auto& d : deltas_) d = dev_->template make_buffer<T>(block_ * widest_hidden);
        gathered_x_ = dev_->template make_buffer<T>(block_ * sizes().front());
        gathered_y_ = dev_->template make_buffer<int>(block_);
        predicted_ = dev_->template make_buffer<int>(block_);
        cost_ = dev_->template make_buffer<double>(1);
        packed_.resize(layout_.layers());
    }

    std::size_t block_rows() const { return block_; }

    // Where forward and backward time is recorded (when the clock is on); may be null.
    void set_clock(StageClock* clock) { clock_ = clock; }

    // Adds the gradient summed over the rows of x to grad (when not null; it has the layout of
    // the parameters) and returns the cost summed over them.
    double accumulate(const T* theta, MatrixRef<const T> x, const int* y, T* grad) {
        queue(theta, x, y, grad);
        return queued_cost();
    }

    // The same without waiting for the device: only queues the kernels, the cost's sum staying
    // in device memory until queued_cost() reads it. Queues the same kernels on the same buffers
    // for the same arguments, so a device may record and replay them (D::Replay).
    void queue(const T* theta, MatrixRef<const T> x, const int* y, T* grad) {
        double* cost = dev_->data(cost_);
        dev_->fill(cost, 1, 0.0);
        pack_weights(theta);
        for (std::size_t lo = 0; lo < x.rows; lo += block_) {
            const std::size_t r = std::min(block_, x.rows - lo);
            block(theta, x.rows_from(lo, r), y + lo, grad, cost);
        }
    }

    // The cost summed by the last queue() (waits for its kernels).
    double queued_cost() {
        double cost = 0;
        dev_->copy_out(&cost, dev_->data(cost_), 1);
        return cost;
    }

    // The same over the rows index[0..count) of x (device memory), gathered block by block: the
    // mini-batch path, which never copies the dataset, only the rows of one block at a time.
    double accumulate_rows(const T* theta, MatrixRef<const T> x, const int* y, const std::size_t* index,
                           std::size_t count, T* grad) {
        double* cost = dev_->data(cost_);
        dev_->fill(cost, 1, 0.0);
        pack_weights(theta);
        for (std::size_t lo = 0; lo < count; lo += block_) {
            const std::size_t r = std::min(block_, count - lo);
            MatrixRef<T> xb{dev_->data(gathered_x_), r, x.cols};
            dev_->gather_rows(x, y, index + lo, xb, dev_->data(gathered_y_));
            block(theta, xb, dev_->data(gathered_y_), grad, cost);
        }
        return queued_cost();
    }

    // ---- The overlapped order, for a communicator that sums the gradient while backprop still
    // computes. In the blocked order above a layer's gradient is complete only during the last
    // block, too late to send anything while there is work left. Here the rows of a window (the
    // last window_rows() of x; the rows before it go in the blocked order first) are carried
    // forward together, their activations kept, and backward runs layer by layer over all of
    // them: δ_L, then ∂J/∂Θ_{L-1} in chunks of output units, δ_{L-1}, ∂J/∂Θ_{L-2}, ... A chunk's
    // gradient is final once its product has seen every row, so the gradient becomes final as a
    // suffix of the flat buffer that grows towards its start: the last layer's last units first.
    //   sink.cost_ready(read)  once, after forward, read a QueuedCost: read() returns the cost's
    //                       sum over x (it waits for the device; a sink that sums on the
    //                       device's own stream leaves it, and takes the cost that
    //                       accumulate_overlapped returns)
    //   sink.ready(f)       grad[f, end) is final (f decreasing, one call per chunk)
    //   sink.poll()         between row pieces of the products, to let started sums move

    struct QueuedCost {
        Backprop* backprop;
        double operator()() const { return backprop->queued_cost(); }
    };

    // Most bytes of activations and deltas the window keeps: rows past it go blocked first.
    static constexpr std::size_t default_window_bytes = std::size_t(64) << 20;
    void set_window_bytes(std::size_t bytes) {
        window_bytes_ = bytes;
        window_rows_ = 0;  // the next prepare_overlap sizes the window again
    }

    // Makes room for the overlapped order over up to `rows` rows, with chunks of at most
    // chunk_elements gradient elements (a layer's chunk holds at least one unit). Allocates; call
    // it before the training loop (accumulate_overlapped calls it too, allocating only if more
    // room is needed).
    void prepare_overlap(std::size_t rows, std::size_t chunk_elements) {
        chunk_elements_ = std::max<std::size_t>(1, chunk_elements);
        std::size_t per_row = 0, widest_hidden = 1;
        for (std::size_t l = 1; l < sizes().size(); ++l) {
            per_row += sizes()[l];
            if (l + 1 < sizes().size()) widest_hidden = std::max(widest_hidden, sizes()[l]);
        }
        per_row = (per_row + 2 * widest_hidden) * sizeof(T);
        const std::size_t w = std::min(rows, std::max(block_, window_bytes_ / per_row));
        if (w <= window_rows_ && !window_acts_.empty()) return;
        window_rows_ = w;
        window_acts_.clear();
        for (std::size_t l = 1; l < sizes().size(); ++l) window_acts_.push_back(dev_->template make_buffer<T>(w * sizes()[l]));
        for (auto& d : window_deltas_) d = dev_->template make_buffer<T>(w * widest_hidden);
    }
    std::size_t window_rows() const { return window_rows_; }

    // As accumulate(), in the overlapped order (for a gradient: grad must not be null).
    template <class Sink>
    double accumulate_overlapped(const T* theta, MatrixRef<const T> x, const int* y, T* grad, std::size_t chunk_elements,
                                 Sink& sink) {
        prepare_overlap(x.rows, chunk_elements);
        double* cost = dev_->data(cost_);
        dev_->fill(cost, 1, 0.0);
        pack_weights(theta);
        const std::size_t w = std::min(x.rows, window_rows_), head = x.rows - w;
        for (std::size_t lo = 0; lo < head; lo += block_)
            block(theta, x.rows_from(lo, std::min(block_, head - lo)), y + lo, grad, cost);
        window(theta, x.rows_from(head, w), y + head, grad, cost, sink);
        return queued_cost();
    }

    // Class scores of the rows of x: out_host[i] = argmax of the output units (the first on a
    // tie). labels (device) may be given instead of out_host to count matches only.
    std::size_t classify(const T* theta, MatrixRef<const T> x, int* out_host, const int* labels) {
        std::size_t correct = 0;
        pack_weights(theta);
        for (std::size_t lo = 0; lo < x.rows; lo += block_) {
            const std::size_t r = std::min(block_, x.rows - lo);
            // σ is monotonic and softmax keeps a row's order: the argmax of z is that of a.
            MatrixRef<const T> z = forward(theta, x.rows_from(lo, r));
            int* pred = dev_->data(predicted_);
            dev_->argmax_rows(z, pred);
            if (out_host) dev_->copy_out(out_host + lo, pred, r);
            if (labels) correct += dev_->count_equal(pred, labels + lo, r);
        }
        return correct;
    }

private:
    const std::vector<std::size_t>& sizes() const { return layout_.sizes(); }

    // Layer l's Theta inside the flat buffer p (parameters or gradient).
    template <class P>
    MatrixRef<P> theta_of(P* p, std::size_t l) const {
        return {p + layout_.offset(l), layout_.rows(l), layout_.cols(l)};
    }
    static MatrixRef<const T> weights(MatrixRef<const T> t) { return {t.data + 1, t.rows, t.cols - 1, t.cols}; }

    // Every layer's weights in the device's form for the forward products (D::pack_weights), once
    // per pass: every entry point that runs forward() calls this first, with the pass's theta.
    void pack_weights(const T* theta) {
        for (std::size_t l = 0; l < layout_.layers(); ++l) dev_->pack_weights(packed_[l], weights(theta_of(theta, l)));
    }
    const auto& packed_weights(const T* theta, std::size_t l) const {
        if (packed_[l].w.data != weights(theta_of(theta, l)).data)
            detail::fail("internal: Backprop's forward product before pack_weights for this theta");
        return packed_[l];
    }
    static VectorRef<const T> bias(MatrixRef<const T> t) { return {t.data, t.rows, t.cols}; }
    MatrixRef<T> act(std::size_t l, std::size_t rows) { return {dev_->data(acts_[l]), rows, sizes()[l + 1]}; }

    // z_l = a_{l-1} W_l^T + b_l for every layer, a_l = f_l(z_l) for the hidden ones; returns the
    // output layer's z.
    MatrixRef<const T> forward(const T* theta, MatrixRef<const T> x) {
        MatrixRef<const T> a = x;
        for (std::size_t l = 0; l < layout_.layers(); ++l) {
            const MatrixRef<const T> t = theta_of(theta, l);
            MatrixRef<T> z = act(l, x.rows);
            dev_->fill_rows(z, bias(t));
            dev_->gemm(T(1), a, packed_weights(theta, l), T(1), z);
            if (l + 1 < layout_.layers())
                with_units(hidden_[l], [&](auto units) { dev_->map(units.forward, z.data, z.size(), z.data); });
            a = z;
        }
        return a;
    }

    // Adds one block's cost to *cost (device memory) and its gradient to grad (when not null).
    void block(const T* theta, MatrixRef<const T> x, const int* y, T* grad, double* cost) {
        const std::size_t layers = sizes().size() - 1;
        forward(theta, x);
        MatrixRef<T> delta = act(layers - 1, x.rows);  // z_L, turned into δ_L in place
        if (output_ == Output::softmax) dev_->softmax_output_delta(delta, y, cost);
        else dev_->sigmoid_output_delta(delta, y, cost);
        lap(&StageTimes::forward);
        if (!grad) return;

        for (std::size_t l = layers; l-- > 0;) {
            MatrixRef<const T> a_prev = l == 0 ? x : MatrixRef<const T>(act(l - 1, x.rows));
            const MatrixRef<T> g = theta_of(grad, l);
            dev_->gemm(true, false, T(1), MatrixRef<const T>(delta), a_prev, T(1),
                       MatrixRef<T>{g.data + 1, g.rows, g.cols - 1, g.cols});
            dev_->add_column_sums(MatrixRef<const T>(delta), VectorRef<T>{g.data, g.rows, g.cols});
            if (l == 0) break;
            MatrixRef<T> next{dev_->data(deltas_[l % 2]), x.rows, sizes()[l]};
            dev_->gemm(false, false, T(1), MatrixRef<const T>(delta), weights(theta_of(theta, l)), T(0), next);
            with_units(hidden_[l - 1], [&](auto units) {
                dev_->map(units.times_grad, next.data, next.size(), const_cast<const T*>(next.data), a_prev.data);
            });
            delta = next;
        }
        lap(&StageTimes::backprop);
    }

    // The window's rows: forward for all of them, then backward layer by layer (see above).
    template <class Sink>
    void window(const T* theta, MatrixRef<const T> x, const int* y, T* grad, double* cost, Sink& sink) {
        const std::size_t layers = layout_.layers(), rows = x.rows;
        auto kept = [&](std::size_t l) { return MatrixRef<T>{dev_->data(window_acts_[l]), rows, sizes()[l + 1]}; };
        MatrixRef<const T> a = x;
        // (A rank may hold none of a mini-batch's rows: it computes nothing, but reports every
        // chunk as the others do, so that all ranks start the same sums.)
        for (std::size_t l = 0; l < layers && rows > 0; ++l) {
            const MatrixRef<const T> t = theta_of(theta, l);
            MatrixRef<T> z = kept(l);
            dev_->fill_rows(z, bias(t));
            dev_->gemm(T(1), a, packed_weights(theta, l), T(1), z);
            if (l + 1 < layers)
                with_units(hidden_[l], [&](auto units) { dev_->map(units.forward, z.data, z.size(), z.data); });
            a = z;
        }
        MatrixRef<T> delta = kept(layers - 1);
        if (rows > 0) {
            if (output_ == Output::softmax) dev_->softmax_output_delta(delta, y, cost);
            else dev_->sigmoid_output_delta(delta, y, cost);
        }
        lap(&StageTimes::forward);
        sink.cost_ready(QueuedCost{this});

        // Row pieces of at least a cache block and 256 rows: long enough for BLAS's full speed,
        // short enough that the sums in flight are polled every millisecond or so.
        const std::size_t piece = std::max<std::size_t>(block_, 256);
        for (std::size_t l = layers; l-- > 0;) {
            const MatrixRef<const T> a_prev = l == 0 ? x : MatrixRef<const T>(kept(l - 1));
            const MatrixRef<T> g = theta_of(grad, l);
            const std::size_t units_per_chunk = std::max<std::size_t>(1, chunk_elements_ / g.cols);
            for (std::size_t hi = g.rows; hi > 0;) {  // chunks of output units, the last first
                const std::size_t lo = hi > units_per_chunk ? hi - units_per_chunk : 0;
                const MatrixRef<T> gc{g.data + lo * g.ld, hi - lo, g.cols, g.ld};
                for (std::size_t r = 0; r < rows; r += piece) {
                    const std::size_t n = std::min(piece, rows - r);
                    const MatrixRef<const T> d{delta.data + r * delta.ld + lo, n, hi - lo, delta.ld};
                    dev_->gemm(true, false, T(1), d, a_prev.rows_from(r, n), T(1),
                               MatrixRef<T>{gc.data + 1, gc.rows, gc.cols - 1, gc.ld});
                    dev_->add_column_sums(d, VectorRef<T>{gc.data, gc.rows, gc.ld});
                    sink.poll();
                }
                sink.ready(layout_.offset(l) + lo * g.cols);
                hi = lo;
            }
            if (l == 0) break;
            MatrixRef<T> next{dev_->data(window_deltas_[l % 2]), rows, sizes()[l]};
            for (std::size_t r = 0; r < rows; r += piece) {
                const std::size_t n = std::min(piece, rows - r);
                const MatrixRef<T> out = next.rows_from(r, n);
                dev_->gemm(false, false, T(1), MatrixRef<const T>(delta.rows_from(r, n)), weights(theta_of(theta, l)), T(0), out);
                with_units(hidden_[l - 1], [&](auto units) {
                    dev_->map(units.times_grad, out.data, out.size(), const_cast<const T*>(out.data), a_prev.rows_from(r, n).data);
                });
                sink.poll();
            }
            delta = next;
        }
        lap(&StageTimes::backprop);
    }

    void lap(double StageTimes::*stage) {
        if (clock_) clock_->lap(stage, *dev_);
    }

    D* dev_;
    StageClock* clock_ = nullptr;
    ThetaLayout layout_;  // the layer sizes, and where each layer's Theta lies in the flat buffers
    std::vector<Activation> hidden_;
    Output output_;
    std::size_t block_;
    std::vector<typename D::template buffer<T>> acts_;  // a_l (z_l before σ), one per layer
    typename D::template buffer<T> deltas_[2];          // δ of hidden layers, alternating
    std::vector<typename D::template packed_weights<T>> packed_;  // per layer, for the pass under way
    typename D::template buffer<T> gathered_x_;         // one block of mini-batch rows
    typename D::template buffer<int> gathered_y_;
    typename D::template buffer<int> predicted_;
    typename D::template buffer<double> cost_;  // the cost's running sum, in device memory
    // The overlapped order's window: every layer's activations and two deltas for its rows.
    std::size_t window_bytes_ = default_window_bytes, window_rows_ = 0, chunk_elements_ = 1;
    std::vector<typename D::template buffer<T>> window_acts_;
    typename D::template buffer<T> window_deltas_[2];
};

}  // namespace pnn
