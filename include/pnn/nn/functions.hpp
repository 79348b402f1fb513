// defines: the elementwise math of training as small functors (the hidden units and their
// derivatives, the cross-entropy terms, the gradient finish and the update), written once for
// every device.
//
// Each functor has a generic call operator: the Cpu policy evaluates it on whole vectors
// (pnn::simd::vec, at the CPU's level), the Cuda policy on scalars inside Thrust kernels
// (PNN_HD; PNN_HD_ANY_TYPE before each, see pnn/config.hpp). The trailing return types let both
// detect what the functor accepts.
#pragma once
#include <cmath>
#include <type_traits>
#include <utility>

#include "pnn/config.hpp"

namespace pnn::fn {

// max(z, 0) for a scalar (host or device code) or a pnn::simd::vec (found by ADL).
PNN_HD_ANY_TYPE
template <class V>
PNN_HD V positive_part(const V& z) {
    if constexpr (std::is_arithmetic_v<V>) {
        return z > V(0) ? z : V(0);
    } else {
        return max(z, V(0));
    }
}

// x where a < b, else y, for scalars (a pnn::simd::vec has its own, found by ADL).
PNN_HD_ANY_TYPE
template <class V>
PNN_HD std::enable_if_t<std::is_arithmetic_v<V>, V> where_less(const V& a, const V& b, const V& x, const V& y) {
    return a < b ? x : y;
}

// The hidden units' functors: a = f(z) for the forward pass, and times_*_grad(δ, a) = δ ⊙ f'(z)
// for the backward one, f' written through the activation a = f(z) (which backprop keeps, where
// z itself is overwritten).

// a = 1 / (1 + e^-z)
struct sigmoid {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& z) const -> decltype(V(1) / (V(1) + exp(-z))) {
        using std::exp;
        return V(1) / (V(1) + exp(-z));
    }
};

// dσ/dz expressed through the activation: σ'(z) = a (1 - a). Backprop multiplies the
// propagated delta by it: delta_l = (delta_{l+1} W_{l+1}) ⊙ a_l (1 - a_l).
struct times_sigmoid_grad {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& d, const V& a) const -> decltype(d * a * (V(1) - a)) {
        return d * a * (V(1) - a);
    }
};

// a = tanh(z) (std::tanh for scalars, pnn::simd's for vectors)
struct hyperbolic_tangent {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& z) const -> decltype(z * z) {
        using std::tanh;
        return tanh(z);
    }
};

// tanh'(z) = 1 - a²
struct times_tanh_grad {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& d, const V& a) const -> decltype(d * a) {
        return d * (V(1) - a * a);
    }
};

// a = max(z, 0), NaN passed on (as PyTorch's relu): z where z is not below 0.
struct rectifier {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& z) const -> decltype(z * z) {
        return where_less(z, V(0), V(0), z);
    }
};

// relu'(z) = 1 for z > 0, else 0 (relu'(0) = 0, as PyTorch); z > 0 exactly where a > 0.
struct times_relu_grad {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& d, const V& a) const -> decltype(d * a) {
        return where_less(V(0), a, d, V(0));
    }
};

// e^z, for the softmax output's row kernels.
struct exponential {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& z) const -> decltype(z * z) {
        using std::exp;
        return exp(z);
    }
};

// softplus(z) = log(1 + e^z), written so that it neither overflows nor loses precision:
// max(z, 0) + log1p(e^-|z|). The seed's per-unit cost is -y log h - (1-y) log(1-h) with
// h = σ(z), which equals softplus(z) - y z exactly; evaluating it from z avoids log(0) when a
// unit saturates, where log(h) of a rounded h would give -inf.
struct softplus {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& z) const -> decltype(log1p(exp(-abs(z)))) {
        using std::abs;
        using std::exp;
        using std::log1p;
        return positive_part(z) + log1p(exp(-abs(z)));
    }
};

// The gradient from its sum over m samples: g = sum / m + (λ / m) · mask · θ, where mask is
// 0 on bias entries and 1 elsewhere, so that the L2 term skips the bias column.
template <class T>
struct finish_gradient {
    T inv_m;
    T lambda_over_m;
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& g, const V& mask, const V& theta) const -> decltype(g * mask * theta) {
        return g * V(inv_m) + V(lambda_over_m) * mask * theta;
    }
};

// Heavy-ball momentum: v <- μ v - η g, then θ <- θ + v. With μ = 0 this is the seed's
// θ <- θ - η g exactly (θ + (-η g) and θ - η g round identically).
template <class T>
struct momentum_velocity {
    T momentum;
    T learning_rate;
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& v, const V& g) const -> decltype(v * g) {
        return V(momentum) * v - V(learning_rate) * g;
    }
};

// One step of gradient descent from the gradient's sum, fused so that the parameters are read
// and written in one pass (the Trainer's update; apart, the three passes took 13% of a
// Fashion-MNIST iteration):
//   g' = g / m + (λ/m) mask θ     finish
//   v  = μ v - η g'               step
//   θ  = θ + v                    (the caller adds v)
// Without λ the L2 term and its mask are left out: g' = g / m exactly as with λ = 0, since
// g/m + 0 is g/m (for a finite θ, which the Trainer checks through the cost).
template <class T>
struct sgd_update {
    finish_gradient<T> finish;
    momentum_velocity<T> step;
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto velocity(const V& v, const V& g, const V& mask, const V& theta) const -> decltype(v * g) {
        return step(v, finish(g, mask, theta));
    }
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto velocity(const V& v, const V& g) const -> decltype(v * g) {
        return step(v, g * V(finish.inv_m));
    }
};

// One Adam (AdamW) update from the gradient's sum, in one pass over θ, the two moments m and v,
// the gradient and the mask (pnn/train/adam.hpp has the rule). With t the update's number:
//   g' = g / m_samples + (λ/m_samples) mask θ   finish, as Sgd's
//   θ  = θ (1 − lr·wd·mask)                      decoupled decay, not on biases
//   m  = β1 m + (1 − β1) g'
//   v  = β2 v + (1 − β2) g'²
//   θ  = θ − step_size (m / (√v / bias2_sqrt + ε)),  step_size = lr / (1 − β1ᵗ), bias2_sqrt = √(1 − β2ᵗ)
// (PyTorch's order of operations for the last line.) Without the mask there is neither L2 nor
// decay: the same values as with λ = wd = 0.
template <class T>
struct adam_update {
    finish_gradient<T> finish;
    T decay;  // lr · wd
    T beta1, beta2;
    T one_minus_beta1, one_minus_beta2;  // worked out in double, as PyTorch's scalars are
    T step_size, bias2_sqrt, epsilon;

    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD void operator()(V& theta, V& m, V& v, const V& g, const V& mask) const {
        const V grad = finish(g, mask, theta);
        theta = theta * (V(1) - V(decay) * mask);
        moments_and_step(theta, m, v, grad);
    }
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD void operator()(V& theta, V& m, V& v, const V& g) const {
        moments_and_step(theta, m, v, g * V(finish.inv_m));
    }

private:
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD void moments_and_step(V& theta, V& m, V& v, const V& grad) const {
        using std::sqrt;
        m = V(beta1) * m + V(one_minus_beta1) * grad;
        v = V(beta2) * v + V(one_minus_beta2) * (grad * grad);
        theta = theta - V(step_size) * (m / (sqrt(v) / V(bias2_sqrt) + V(epsilon)));
    }
};

// a + b: the update θ += v, and sums of buffers.
struct plus {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& a, const V& b) const -> decltype(a + b) {
        return a + b;
    }
};

// Σ mask · θ², the L2 term before its factor λ / (2m).
struct masked_square {
    PNN_HD_ANY_TYPE
    template <class V>
    PNN_HD auto operator()(const V& mask, const V& theta) const -> decltype(mask * theta) {
        return mask * theta * theta;
    }
};

}  // namespace pnn::fn
