// defines: pnn::OptimizerState<D, T>, the seam between the Trainer and the update rules: the
// state an optimizer keeps between updates, in device memory (Sgd: the momentum buffer; Adam: the
// two moments and its step count), and one update of the parameters from the gradient's sum.
// The Trainer sees only this; the rules see only the parameters, the gradient, the L2 mask and
// their own state (the fused device kernels, fn::sgd_update and fn::adam_update).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "pnn/error.hpp"
#include "pnn/nn/functions.hpp"
#include "pnn/train/adam.hpp"
#include "pnn/train/sgd.hpp"
#include "pnn/util/memory.hpp"

namespace pnn {

namespace detail {
// From the gradient's sum over m samples to the gradient: / m, plus the L2 term λ/m mask θ.
template <class T>
fn::finish_gradient<T> finishing(std::size_t m, double lambda) {
    return {T(1.0 / double(m)), T(lambda / double(m))};
}
// How many state arrays of the parameters' size an optimizer keeps.
inline std::size_t state_arrays(const Optimizer& o) { return std::holds_alternative<Adam>(o) ? 2 : 1; }
}  // namespace detail

// The elements [lo, hi) of the parameters that one update covers: all of them, or this rank's
// part where the update is sharded over ranks (pnn/comm/comm.hpp, PartSummingComm). The update
// rules are elementwise, and each element goes through the same formula wherever a part starts
// (pnn/simd/apply.hpp), so the parts' results are the whole update's bits. `sharded` says which,
// the same on every rank: a rank's part may be empty, or all of the parameters, while the
// others' are not, and every rank must then share its part all the same.
struct Part {
    std::size_t lo = 0, hi = 0;
    bool sharded = false;
};

template <class D, class T>
class OptimizerState {
public:
    OptimizerState(D& device, std::size_t parameters) : dev_(&device), n_(parameters) {}

    // The kind whose state this is (Optimizer's index: 0 Sgd, 1 Adam); none before the first
    // fit or load, and after reset.
    std::optional<std::size_t> kind() const { return kind_; }
    // Adam's t: updates since its state began.
    std::uint64_t steps() const { return steps_; }
    std::size_t arrays() const { return arrays_.size(); }
    T* array(std::size_t i) { return dev_->data(arrays_[i]); }

    // Before a fit with o: a state of o's kind, zero, if there is none yet; an error if the
    // state is another kind's (moments are never restarted silently).
    void begin(const Optimizer& o) {
        if (kind_ && *kind_ != o.index())
            detail::fail("fit: this trainer's optimizer state is ", kind_ == 0 ? "Sgd" : "Adam", "'s, and this fit is ",
                         name_of(o), "'s; call reset_optimizer() first to start ", name_of(o), " from a zero state");
        if (!kind_) start(o.index(), 0);
    }

    // Forgets the state: the next fit starts its kind from zero.
    void reset() {
        kind_.reset();
        arrays_.clear();
        steps_ = 0;
    }

    // A zero state of the given kind after `steps` updates (load_checkpoint then fills the arrays).
    void start(std::size_t kind, std::uint64_t steps) {
        kind_ = kind;
        steps_ = steps;
        arrays_.clear();
        for (std::size_t i = 0; i < (kind == 1 ? 2u : 1u); ++i) {
            arrays_.push_back(detail::allocating(n_, sizeof(T), "the optimizer's state", [&] {
                return dev_->template make_buffer<T>(n_);
            }, D::host_memory));
            dev_->fill(dev_->data(arrays_.back()), n_, T(0));
        }
    }

    // One update of θ's elements in `part` from the gradient's sum over m samples; mask is 1 on
    // weights, 0 on biases. The state outside the part is left as it was.
    void update(const Sgd& s, T* theta, const T* grad, const T* mask, std::size_t m, Part part) {
        const fn::sgd_update<T> f{detail::finishing<T>(m, s.lambda), {T(s.momentum), T(s.learning_rate)}};
        const std::size_t at = part.lo;
        dev_->sgd_step(theta + at, array(0) + at, grad + at, s.lambda > 0 ? mask + at : nullptr, part.hi - at, f);
    }
    void update(const Adam& a, T* theta, const T* grad, const T* mask, std::size_t m, Part part) {
        ++steps_;
        const double t = double(steps_);
        const fn::adam_update<T> f{detail::finishing<T>(m, a.lambda),
                                   T(a.learning_rate * a.weight_decay),
                                   T(a.beta1),
                                   T(a.beta2),
                                   T(1 - a.beta1),
                                   T(1 - a.beta2),
                                   T(a.learning_rate / (1 - std::pow(a.beta1, t))),
                                   T(std::sqrt(1 - std::pow(a.beta2, t))),
                                   T(a.epsilon)};
        const std::size_t at = part.lo;
        dev_->adam_step(theta + at, array(0) + at, array(1) + at, grad + at,
                        a.lambda > 0 || a.weight_decay > 0 ? mask + at : nullptr, part.hi - at, f);
    }

private:
    D* dev_;
    std::size_t n_;
    std::optional<std::size_t> kind_;
    std::uint64_t steps_ = 0;
    std::vector<typename D::template buffer<T>> arrays_;
};

}  // namespace pnn
