// defines: pnn::Activation (the hidden units: sigmoid, tanh, relu) and pnn::Output (the output
// layer with its cost: the seed's independent sigmoid units, or softmax), their names, and
// pnn::with_units, which calls a function with the functors of one kind of hidden unit.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pnn/error.hpp"
#include "pnn/nn/functions.hpp"

namespace pnn {

// Hidden units. relu'(0) = 0, as in PyTorch.
enum class Activation : std::uint8_t { sigmoid = 0, tanh = 1, relu = 2 };

// The output layer and its cost, for m samples with labels y_i:
//   sigmoid  independent sigmoid units, J = (1/m) Σ_i Σ_k [-y_ik log σ(z_ik) - (1 - y_ik) log(1 - σ(z_ik))]
//            (the seed's; y_ik = 1 where k = y_i)
//   softmax  J = -(1/m) Σ_i log softmax(z_i)[y_i], softmax(z)_k = e^(z_k) / Σ_j e^(z_j)
// each plus the L2 term. Both have the output delta ∂J/∂z = a - onehot(y) (times 1/m).
enum class Output : std::uint8_t { sigmoid = 0, softmax = 1 };

inline std::string_view name_of(Activation a) {
    switch (a) {
        case Activation::tanh: return "tanh";
        case Activation::relu: return "relu";
        default: return "sigmoid";
    }
}
inline std::string_view name_of(Output o) { return o == Output::softmax ? "softmax" : "sigmoid"; }

// A list of activations as their names joined by '-' ("relu-tanh"), for messages and reports.
inline std::string names_of(const std::vector<Activation>& hidden) {
    std::string text;
    for (Activation a : hidden) {
        if (!text.empty()) text += '-';
        text += name_of(a);
    }
    return text;
}

// From a name ("sigmoid", "tanh", "relu"); `what` names the setting in the error.
inline Activation activation_named(std::string_view name, std::string_view what = "activation") {
    for (Activation a : {Activation::sigmoid, Activation::tanh, Activation::relu})
        if (name == name_of(a)) return a;
    detail::fail(what, ": expected sigmoid, tanh or relu, found '", std::string(name), "'");
}
inline Output output_named(std::string_view name, std::string_view what = "output") {
    for (Output o : {Output::sigmoid, Output::softmax})
        if (name == name_of(o)) return o;
    detail::fail(what, ": expected sigmoid or softmax, found '", std::string(name), "'");
}

// A kind of hidden unit as functors (pnn/nn/functions.hpp): forward a = f(z), and
// times_grad(δ, a) = δ ⊙ f'(z) written through a.
template <class Forward, class TimesGrad>
struct Units {
    Forward forward;
    TimesGrad times_grad;
};

// f(Units{...}) for the units of a, so that the devices' elementwise call is instantiated with
// each kind's functors (a switch here, not a virtual call per element).
template <class F>
decltype(auto) with_units(Activation a, F&& f) {
    switch (a) {
        case Activation::tanh: return f(Units<fn::hyperbolic_tangent, fn::times_tanh_grad>{});
        case Activation::relu: return f(Units<fn::rectifier, fn::times_relu_grad>{});
        default: return f(Units<fn::sigmoid, fn::times_sigmoid_grad>{});
    }
}

}  // namespace pnn
