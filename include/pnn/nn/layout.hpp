// defines: pnn::ThetaLayout, where each layer's Theta lies in the one flat buffer of a net's
// parameters (and of its gradient, which has the same layout): the offsets, the parameter count
// and the bias mask, worked out once from the layer sizes.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "pnn/error.hpp"

namespace pnn {

// "784-256-10": a net's sizes as a reader writes them.
inline std::string sizes_text(const std::vector<std::size_t>& sizes) {
    std::string out;
    for (std::size_t v : sizes) {
        if (!out.empty()) out += '-';
        out += std::to_string(v);
    }
    return out;
}

// Layer l maps sizes[l] units to sizes[l+1]: its Theta is sizes[l+1] x (1 + sizes[l]), row-major,
// column 0 the bias, and the Thetas lie one after the other.
class ThetaLayout {
public:
    // sizes as an Mlp's (inputs first, outputs last); checked by whoever builds the net.
    // A count past 2^64 (sizes such as {2^32 - 1, 2^32}) is a pnn::error, not a wrapped count.
    explicit ThetaLayout(std::vector<std::size_t> sizes) : sizes_(std::move(sizes)) {
        offsets_.push_back(0);
        for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
            std::size_t entries = 0, end = 0;
            if (__builtin_mul_overflow(rows(l), cols(l), &entries) || __builtin_add_overflow(offsets_.back(), entries, &end))
                detail::fail("net sizes: layers ", l, " to ", l + 1, " (", sizes_[l], " to ", sizes_[l + 1],
                             " units) take the parameter count past 2^64");
            offsets_.push_back(end);
        }
    }

    std::size_t layers() const { return sizes_.empty() ? 0 : sizes_.size() - 1; }
    const std::vector<std::size_t>& sizes() const { return sizes_; }
    std::size_t rows(std::size_t l) const { return sizes_[l + 1]; }     // units out
    std::size_t cols(std::size_t l) const { return 1 + sizes_[l]; }     // the bias and units in
    std::size_t offset(std::size_t l) const { return offsets_[l]; }     // where Theta_l starts
    std::size_t parameter_count() const { return offsets_.back(); }

    // 1 on weights, 0 on bias entries (column 0 of each Theta): the L2 term's mask.
    template <class T>
    std::vector<T> weight_mask() const {
        std::vector<T> mask(parameter_count(), T(1));
        for (std::size_t l = 0; l < layers(); ++l)
            for (std::size_t r = 0; r < rows(l); ++r) mask[offset(l) + r * cols(l)] = T(0);
        return mask;
    }

    friend bool operator==(const ThetaLayout& a, const ThetaLayout& b) { return a.sizes_ == b.sizes_; }

private:
    std::vector<std::size_t> sizes_;
    std::vector<std::size_t> offsets_;  // layers() + 1 entries, the last the parameter count
};

}  // namespace pnn
