// defines: pnn::Mlp<T>, a fully connected net of sigmoid layers (the seed's model at any depth),
// with all parameters in one contiguous buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "pnn/error.hpp"
#include "pnn/nn/layout.hpp"

namespace pnn {

// Layer l (0-based) maps sizes[l] units to sizes[l+1] units through the seed's Theta matrix:
// sizes[l+1] x (1 + sizes[l]), row-major, column 0 the bias, so a = σ(Theta · [1; a_prev]).
// The Theta matrices lie one after the other in a single buffer: the gradient has the same
// layout, so averaging it over ranks is one collective on one buffer.
template <class T>
class Mlp {
    static_assert(std::is_floating_point_v<T>, "pnn::Mlp<T> takes T = float or double");

public:
    using value_type = T;
    static constexpr double init_epsilon = 0.12;  // the seed's ε_init: Theta ~ U(-ε, ε)

    // sizes: units per layer, inputs first, outputs last, at least two entries, none zero.
    // Weights are drawn from seed: the same sizes and seed give the same weights everywhere.
    explicit Mlp(std::vector<std::size_t> sizes, std::uint64_t seed = 0) : layout_(checked(std::move(sizes))) {
        params_.resize(layout_.parameter_count());
        randomize(seed);
    }
    Mlp(std::initializer_list<std::size_t> sizes, std::uint64_t seed = 0)
        : Mlp(std::vector<std::size_t>(sizes), seed) {}

    // Uniform in [-ε, ε) from a 64-bit Mersenne Twister, mapped by pnn itself rather than by
    // std::uniform_real_distribution, whose output differs between standard libraries.
    void randomize(std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        for (T& p : params_) {
            const double u = double(rng() >> 11) * 0x1.0p-53;  // [0, 1), 53 random bits
            p = T((2 * u - 1) * init_epsilon);
        }
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

    friend bool operator==(const Mlp& a, const Mlp& b) { return a.layout_ == b.layout_ && a.params_ == b.params_; }

private:
    static ThetaLayout checked(std::vector<std::size_t> sizes) {
        if (sizes.size() < 2)
            detail::fail("Mlp sizes: expected at least 2 layer sizes (inputs and outputs), found ", sizes.size());
        for (std::size_t l = 0; l < sizes.size(); ++l)
            if (sizes[l] == 0) detail::fail("Mlp sizes: expected every layer size >= 1, found 0 at position ", l);
        return ThetaLayout(std::move(sizes));
    }

    std::size_t check(std::size_t l) const {
        if (l >= layers()) detail::fail("layer index: expected 0..", layers() - 1, ", found ", l);
        return l;
    }

    ThetaLayout layout_;
    std::vector<T> params_;
};

}  // namespace pnn
