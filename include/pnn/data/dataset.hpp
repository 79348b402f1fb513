// defines: pnn::Dataset<T>, samples as rows of a matrix with an integer class label each.
#pragma once
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "pnn/error.hpp"
#include "pnn/util/matrix_ref.hpp"

namespace pnn {

namespace detail {
// Throws naming the first NaN or Inf in x: training on one would turn every weight into NaN.
template <class T>
void check_finite(MatrixRef<const T> x, const std::string& name) {
    for (std::size_t i = 0; i < x.rows; ++i)
        for (std::size_t j = 0; j < x.cols; ++j)
            if (!std::isfinite(x.row(i)[j]))
                fail(name, ": expected finite inputs, found ", x.row(i)[j], " at sample ", i, ", feature ", j);
}
}  // namespace detail

// x is m x n (row i = sample i), y holds m labels in 0..k-1. The constructor checks what every
// consumer relies on, once: as many labels as rows, no NaN or Inf, no negative label (the upper
// bound depends on the net, and is checked where a net meets the data). The name is what error
// messages call the dataset, a file path when it came from one.
template <class T>
class Dataset {
    static_assert(std::is_floating_point_v<T>, "pnn::Dataset holds float or double samples");

public:
    using value_type = T;

    Dataset() : x_(typename xt::xtensor<T, 2>::shape_type{0, 0}), y_(typename xt::xtensor<int, 1>::shape_type{0}) {}

    Dataset(xt::xtensor<T, 2> x, xt::xtensor<int, 1> y, std::string name = "dataset")
        : x_(std::move(x)), y_(std::move(y)), name_(std::move(name)) {
        if (x_.shape(0) != y_.size())
            detail::fail(name_, ": expected one label per sample (", x_.shape(0), " samples), found ", y_.size(),
                         " labels");
        detail::check_finite(x_ref(), name_);
        for (std::size_t i = 0; i < y_.size(); ++i)
            if (y_(i) < 0) detail::fail(name_, ": expected labels >= 0, found ", y_(i), " at sample ", i);
    }

    std::size_t size() const { return x_.shape(0); }
    std::size_t features() const { return x_.shape(1); }
    bool empty() const { return size() == 0; }
    const std::string& name() const { return name_; }

    const xt::xtensor<T, 2>& x() const { return x_; }
    const xt::xtensor<int, 1>& y() const { return y_; }
    MatrixRef<const T> x_ref() const { return {x_.data(), x_.shape(0), x_.shape(1)}; }
    const int* labels_data() const { return y_.data(); }

    // Samples [lo, hi), copied: for splitting a training set from a validation set.
    Dataset slice(std::size_t lo, std::size_t hi) const {
        if (lo > hi || hi > size())
            detail::fail(name_, ": expected a row range within 0..", size(), ", found [", lo, ", ", hi, ")");
        return Dataset(xt::xtensor<T, 2>(xt::view(x_, xt::range(lo, hi), xt::all())),
                       xt::xtensor<int, 1>(xt::view(y_, xt::range(lo, hi))), name_);
    }

private:
    xt::xtensor<T, 2> x_;
    xt::xtensor<int, 1> y_;
    std::string name_ = "dataset";
};

}  // namespace pnn
