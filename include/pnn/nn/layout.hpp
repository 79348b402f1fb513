// defines: pnn::ThetaLayout, where each layer's Theta lies in the one flat buffer of a net's
// parameters (and of its gradient, which has the same layout): the offsets, the parameter count
// and the bias mask, worked out once from the layer sizes.
#pragma once
#include <cstddef>
#include <vector>

namespace pnn {

// Layer l maps sizes[l] units to sizes[l+1]: its Theta is sizes[l+1] x (1 + sizes[l]), row-major,
// column 0 the bias, and the Thetas lie one after the other.
class ThetaLayout {
public:
    // sizes as an Mlp's (inputs first, outputs last); checked by whoever builds the net.
    explicit ThetaLayout(std::vector<std::size_t> sizes) : sizes_(std::move(sizes)) {
        offsets_.push_back(0);
        for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) offsets_.push_back(offsets_.back() + rows(l) * cols(l));
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
