// defines: pnn::Mlp<T>, a fully connected net (the seed's sigmoid model at any depth, or ReLU,
// tanh and softmax units), with all parameters in one contiguous buffer.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "pnn/error.hpp"
#include "pnn/nn/layout.hpp"
#include "pnn/nn/units.hpp"
#include "pnn/util/memory.hpp"

namespace pnn {

// Layer l (0-based) maps sizes[l] units to sizes[l+1] units through the seed's Theta matrix:
// sizes[l+1] x (1 + sizes[l]), row-major, column 0 the bias, so a = f(Theta · [1; a_prev]) with f
// the layer's units: one Activation per hidden layer, and the Output (pnn/nn/units.hpp) last.
// The Theta matrices lie one after the other in a single buffer: the gradient has the same
// layout, so averaging it over ranks is one collective on one buffer.
template <class T>
class Mlp {
    static_assert(std::is_floating_point_v<T>, "pnn::Mlp<T> takes T = float or double");

public:
    using value_type = T;
    static constexpr double init_epsilon = 0.12;  // the seed's ε_init: Theta ~ U(-ε, ε)

    // sizes: units per layer, inputs first, outputs last, at least two entries, none zero.
    // activations: one per hidden layer, or one for all of them. Weights are drawn from seed (see
    // randomize): the same sizes, units and seed give the same weights everywhere.
    explicit Mlp(std::vector<std::size_t> sizes, std::uint64_t seed = 0,
                 std::vector<Activation> activations = {Activation::sigmoid}, Output output = Output::sigmoid)
        : layout_(checked(std::move(sizes))), hidden_(hidden_units(layout_, std::move(activations))), output_(output) {
        if (output_ == Output::softmax && outputs() < 2)
            detail::fail("Mlp output: softmax expects at least 2 output units, found ", outputs());
        const std::size_t n = layout_.parameter_count();
        detail::allocating(n, sizeof(T), "net " + sizes_text(layout_.sizes()) + ": its weights", [&] { params_.resize(n); });
        randomize(seed);
    }
    Mlp(std::vector<std::size_t> sizes, std::uint64_t seed, Activation activation, Output output = Output::sigmoid)
        : Mlp(std::move(sizes), seed, std::vector<Activation>{activation}, output) {}
    Mlp(std::initializer_list<std::size_t> sizes, std::uint64_t seed = 0,
        std::vector<Activation> activations = {Activation::sigmoid}, Output output = Output::sigmoid)
        : Mlp(std::vector<std::size_t>(sizes), seed, std::move(activations), output) {}
    Mlp(std::initializer_list<std::size_t> sizes, std::uint64_t seed, Activation activation, Output output = Output::sigmoid)
        : Mlp(std::vector<std::size_t>(sizes), seed, std::vector<Activation>{activation}, output) {}

    // Draws every weight from a 64-bit Mersenne Twister seeded with seed, layer by layer, in each
    // Theta's row-major order, mapped to [-b, b) by pnn itself rather than by
    // std::uniform_real_distribution (whose output differs between standard libraries):
    //   the seed's model (sigmoid units, sigmoid output): every entry, biases included, from
    //     U(±0.12), one draw each, as the seed did;
    //   any other net: one draw per weight, biases 0 (no draw); a layer whose outputs are ReLU
    //     units from He-uniform, b = √(6 / fan_in), every other layer from Glorot-uniform,
    //     b = √(6 / (fan_in + fan_out)) (fan_in = units in, fan_out = units out).
    void randomize(std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        auto draw = [&](double bound) {
            const double u = double(rng() >> 11) * 0x1.0p-53;  // [0, 1), 53 random bits
            return T((2 * u - 1) * bound);
        };
        if (is_seed_model()) {
            for (T& p : params_) p = draw(init_epsilon);
            return;
        }
        for (std::size_t l = 0; l < layers(); ++l) {
            const double in = double(units_in(l)), out = double(units_out(l));
            const bool relu = l + 1 < layers() && hidden_[l] == Activation::relu;
            const double bound = relu ? std::sqrt(6.0 / in) : std::sqrt(6.0 / (in + out));
            T* theta = params_.data() + offset(l);
            for (std::size_t r = 0; r < layout_.rows(l); ++r)
                for (std::size_t c = 0; c < layout_.cols(l); ++c) theta[r * layout_.cols(l) + c] = c == 0 ? T(0) : draw(bound);
        }
    }

    // The units: one activation per hidden layer (layers() - 1 of them), and the output.
    const std::vector<Activation>& activations() const { return hidden_; }
    Output output() const { return output_; }
    // Sigmoid units everywhere and the seed's cost: the model of the 2016 article.
    bool is_seed_model() const {
        return output_ == Output::sigmoid &&
               std::all_of(hidden_.begin(), hidden_.end(), [](Activation a) { return a == Activation::sigmoid; });
    }

    std::size_t layers() const { return layout_.layers(); }
    const std::vector<std::size_t>& sizes() const { return layout_.sizes(); }
    std::size_t inputs() const { return sizes().front(); }
    std::size_t outputs() const { return sizes().back(); }
    std::size_t units_in(std::size_t l) const { return sizes()[check(l)]; }
    std::size_t units_out(std::size_t l) const { return sizes()[check(l) + 1]; }

    // The flat parameter buffer, its layout, and where layer l starts in it.
    const ThetaLayout& layout() const { return layout_; }
    std::size_t parameter_count() const { return params_.size(); }
    std::size_t offset(std::size_t l) const { return layout_.offset(check(l)); }
    T* parameters() { return params_.data(); }
    const T* parameters() const { return params_.data(); }

    // Layer l's Theta (units_out x (1 + units_in), column 0 the bias), as a copy.
    xt::xtensor<T, 2> theta(std::size_t l) const {
        xt::xtensor<T, 2> t = xt::xtensor<T, 2>::from_shape({units_out(l), 1 + units_in(l)});
        std::copy_n(params_.data() + offset(l), t.size(), t.data());
        return t;
    }

    void set_theta(std::size_t l, const xt::xtensor<T, 2>& t) {
        const std::size_t rows = units_out(l), cols = 1 + units_in(l);
        if (t.shape(0) != rows || t.shape(1) != cols)
            detail::fail("set_theta(", l, "): expected a ", rows, " x ", cols, " matrix (units out x 1 + units in), found ",
                         t.shape(0), " x ", t.shape(1));
        std::copy_n(t.data(), t.size(), params_.data() + offset(l));
    }

    friend bool operator==(const Mlp& a, const Mlp& b) {
        return a.layout_ == b.layout_ && a.hidden_ == b.hidden_ && a.output_ == b.output_ && a.params_ == b.params_;
    }

private:
    static ThetaLayout checked(std::vector<std::size_t> sizes) {
        if (sizes.size() < 2)
            detail::fail("Mlp sizes: expected at least 2 layer sizes (inputs and outputs), found ", sizes.size());
        for (std::size_t l = 0; l < sizes.size(); ++l)
            if (sizes[l] == 0) detail::fail("Mlp sizes: expected every layer size >= 1, found 0 at position ", l);
        return ThetaLayout(std::move(sizes));
    }

    // One activation per hidden layer, from a list of one (for all) or of one per hidden layer.
    static std::vector<Activation> hidden_units(const ThetaLayout& layout, std::vector<Activation> given) {
        const std::size_t hidden = layout.layers() - 1;
        if (given.size() == 1) return std::vector<Activation>(hidden, given.front());
        if (given.size() != hidden)
            detail::fail("Mlp activations: expected 1 activation (for every hidden layer) or ", hidden,
                         " (one per hidden layer), found ", given.size());
        return given;
    }

    std::size_t check(std::size_t l) const {
        if (l >= layers()) detail::fail("layer index: expected 0..", layers() - 1, ", found ", l);
        return l;
    }

    ThetaLayout layout_;
    std::vector<Activation> hidden_;  // one per hidden layer
    Output output_;
    std::vector<T> params_;
};

}  // namespace pnn
