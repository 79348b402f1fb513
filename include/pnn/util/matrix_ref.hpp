// defines: pnn::MatrixRef, a non-owning row-major view (pointer, rows, cols, leading dimension)
// that the device policies take for every matrix argument, whichever memory it lives in.
#pragma once
#include <cstddef>
#include <type_traits>

namespace pnn {

// Row i, column j lives at data[i * ld + j]. ld >= cols lets a view skip columns: the weight
// block of a Theta matrix (units_out x (1 + units_in)) is the view that starts at column 1
// with ld = 1 + units_in, so the bias column never has to be split off or copied.
template <class T>
struct MatrixRef {
    T* data = nullptr;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t ld = 0;

    MatrixRef() = default;
    MatrixRef(T* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c), ld(c) {}
    MatrixRef(T* d, std::size_t r, std::size_t c, std::size_t l) : data(d), rows(r), cols(c), ld(l) {}

    // A view of mutable data converts to a view of const data, never the reverse.
    template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
    MatrixRef(const MatrixRef<U>& o) : data(o.data), rows(o.rows), cols(o.cols), ld(o.ld) {}

    bool contiguous() const { return ld == cols || rows <= 1; }
    std::size_t size() const { return rows * cols; }
    T* row(std::size_t i) const { return data + i * ld; }
    // Rows [lo, lo + n) of this view.
    MatrixRef rows_from(std::size_t lo, std::size_t n) const { return {data + lo * ld, n, cols, ld}; }
};

// A strided vector: element i at data[i * stride]. Column 0 of a Theta matrix (the bias) is one.
template <class T>
struct VectorRef {
    T* data = nullptr;
    std::size_t size = 0;
    std::size_t stride = 1;
};

}  // namespace pnn
