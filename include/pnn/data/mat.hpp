// defines: pnn::load_mat and pnn::load_mat_net, readers of MATLAB .mat files (through libmatio:
// v4, v5 and, where matio was built with HDF5 as Debian's is, v7.3), the files the seed's course
// ships: a dataset from named variables (X, y) and a net's Theta matrices (Theta1, Theta2, ...).
//
// MATLAB stores a matrix column-major: element (i, j) of an r x c matrix is data[i + j r]. pnn
// is row-major, so every matrix is transposed on the way in (reading the bytes as they lie would
// give the transpose of every Theta, the pitfall the seed warns about; data_test catches it).
//
// Labels: the seed's y runs 1..10, where 10 stands for digit 0 (MATLAB counts from 1). By
// default class = y - 1 (so 10 becomes class 9, the tenth output unit, as in the seed's
// course); MatOptions::one_based = false takes y as the class itself.
//
// Needs libmatio (Debian: libmatio-dev) and -lmatio; pnn.hpp includes this header only where
// <matio.h> is found.
#pragma once
#include <matio.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "pnn/data/dataset.hpp"
#include "pnn/data/mat_check.hpp"
#include "pnn/error.hpp"
#include "pnn/nn/mlp.hpp"
#include "pnn/util/memory.hpp"

namespace pnn {

struct MatOptions {
    std::string x = "X";     // the samples: m x n, one row per sample
    std::string y = "y";     // the labels: m values (a column or a row)
    bool one_based = true;   // class = y - 1 (the seed's convention); false: class = y
    std::size_t limit = 0;   // the first `limit` samples only (0 = all)
};

namespace detail {

// An open .mat file, closed whichever way the reader leaves.
class MatFile {
public:
    explicit MatFile(const std::string& path) : path_(path) {
        struct stat st{};
        if (::stat(path.c_str(), &st) != 0) fail(path, ": cannot open: no such file");
        if (!S_ISREG(st.st_mode)) fail(path, ": expected a MATLAB .mat file, found a directory or special file");
        check_mat_structure(path);  // matio trusts the sizes a file declares
        file_bytes_ = std::size_t(st.st_size);
        mat_ = Mat_Open(path.c_str(), MAT_ACC_RDONLY);
        if (!mat_) fail(path, ": expected a MATLAB .mat file (v4, v5 or v7.3), found something else");
    }
    ~MatFile() {
        if (mat_) Mat_Close(mat_);
    }
    MatFile(const MatFile&) = delete;
    MatFile& operator=(const MatFile&) = delete;

    // The names of the file's variables, for messages.
    std::string names() {
        std::string out;
        Mat_Rewind(mat_);
        while (matvar_t* info = Mat_VarReadNextInfo(mat_)) {
            if (info->name) out += (out.empty() ? "" : ", ") + std::string(info->name);
            Mat_VarFree(info);
        }
        return out.empty() ? "none" : out;
    }

    bool has(const std::string& name) {
        matvar_t* info = Mat_VarReadInfo(mat_, name.c_str());
        if (info) Mat_VarFree(info);
        return info != nullptr;
    }

    // A real, dense, numeric 2-D variable as doubles in row-major order.
    struct Matrix {
        std::size_t rows = 0, cols = 0;
        std::unique_ptr<double[]> data;  // row-major; not zeroed first, as every value is written once
    };
    // A real, dense, numeric variable, or a pnn::error naming what it is.
    static void check_kind(const matvar_t& v, const std::string& what) {
        if (v.isComplex) fail(what, ": expected real numbers, found a complex matrix");
        if (v.class_type == MAT_C_SPARSE || v.class_type == MAT_C_CELL || v.class_type == MAT_C_STRUCT ||
            v.class_type == MAT_C_CHAR || v.class_type == MAT_C_OBJECT || v.class_type == MAT_C_FUNCTION ||
            v.class_type == MAT_C_EMPTY)
            fail(what, ": expected a dense numeric matrix, found MATLAB class ", class_name(v.class_type));
    }

    Matrix matrix(const std::string& name) {
        const std::string what = path_ + ": variable '" + name + "'";
        {
            // Its dimensions against what the file can hold, before matio allocates for them: at
            // most 1032 values a byte (zlib's greatest ratio, on bytes of 0). Fuzzing found a
            // 632-byte file whose dimensions asked for 1.6 GB.
            std::unique_ptr<matvar_t, void (*)(matvar_t*)> info(Mat_VarReadInfo(mat_, name.c_str()), Mat_VarFree);
            if (!info) fail(path_, ": expected a variable '", name, "', found none (variables: ", names(), ")");
            if (info->rank != 2) fail(what, ": expected a 2-D matrix, found ", info->rank, " dimensions");
            const double values = double(info->dims[0]) * double(info->dims[1]);
            if (values > 1032.0 * double(file_bytes_))
                fail(what, ": its ", info->dims[0], " x ", info->dims[1], " values cannot be held by a file of ", file_bytes_,
                     " bytes");
            // Its kind too, from the header: matio reads a complex matrix's parts with sizes of
            // its own, and fuzzing found a 632-byte complex one for which it asked 3.2 GB.
            check_kind(*info, what);
        }
        std::unique_ptr<matvar_t, void (*)(matvar_t*)> v(Mat_VarRead(mat_, name.c_str()), Mat_VarFree);
        if (!v) fail(what, ": matio could not read it");
        if (v->rank != 2) fail(what, ": expected a 2-D matrix, found ", v->rank, " dimensions");
        check_kind(*v, what);
        Matrix m;
        m.rows = v->dims[0];
        m.cols = v->dims[1];
        const std::size_t n = m.rows * m.cols;
        if (n > 0 && (!v->data || v->nbytes < n * std::size_t(v->data_size)))
            fail(what, ": the file holds no data for its ", m.rows, " x ", m.cols, " elements");
        allocating(n, sizeof(double), what, [&] { m.data = std::make_unique_for_overwrite<double[]>(n); });
        // The class is looked up once, not per element: a 64 KB compressed file can hold 67 M
        // one-byte values, and a lookup per value took 100 s under the fuzzer's instrumentation.
        with_element_type(v->class_type, what, [&](auto zero) {
            transpose_to_row_major(static_cast<const decltype(zero)*>(v->data), m.rows, m.cols, m.data.get());
        });
        return m;
    }

private:
    // Calls f with a value of the C++ type that holds class c's elements.
    template <class F>
    static void with_element_type(matio_classes c, const std::string& what, F&& f) {
        switch (c) {
            case MAT_C_DOUBLE: return f(double{});
            case MAT_C_SINGLE: return f(float{});
            case MAT_C_INT8: return f(std::int8_t{});
            case MAT_C_UINT8: return f(std::uint8_t{});
            case MAT_C_INT16: return f(std::int16_t{});
            case MAT_C_UINT16: return f(std::uint16_t{});
            case MAT_C_INT32: return f(std::int32_t{});
            case MAT_C_UINT32: return f(std::uint32_t{});
            case MAT_C_INT64: return f(std::int64_t{});
            case MAT_C_UINT64: return f(std::uint64_t{});
            default: fail(what, ": unsupported MATLAB class ", class_name(c));
        }
    }

    // out (row-major, rows x cols) = in (column-major: element (i, j) at in[i + j rows]), in
    // square tiles so that the reads of one and the writes of the other both stay in cache.
    template <class E>
    static void transpose_to_row_major(const E* in, std::size_t rows, std::size_t cols, double* out) {
        constexpr std::size_t tile = 32;
        for (std::size_t i0 = 0; i0 < rows; i0 += tile)
            for (std::size_t j0 = 0; j0 < cols; j0 += tile) {
                const std::size_t i1 = std::min(rows, i0 + tile), j1 = std::min(cols, j0 + tile);
                for (std::size_t i = i0; i < i1; ++i)
                    for (std::size_t j = j0; j < j1; ++j) out[i * cols + j] = double(in[i + j * rows]);
            }
    }

    static const char* class_name(matio_classes c) {
        switch (c) {
            case MAT_C_SPARSE: return "sparse";
            case MAT_C_CELL: return "cell";
            case MAT_C_STRUCT: return "struct";
            case MAT_C_CHAR: return "char";
            case MAT_C_OBJECT: return "object";
            case MAT_C_FUNCTION: return "function";
            case MAT_C_EMPTY: return "empty";
            default: return "numeric";
        }
    }

    std::string path_;
    mat_t* mat_ = nullptr;
    std::size_t file_bytes_ = 0;
};

}  // namespace detail

// The dataset in variables o.x (m x n samples) and o.y (m labels) of a .mat file.
template <class T>
Dataset<T> load_mat(const std::string& path, const MatOptions& o = {}) {
    detail::MatFile f(path);
    const auto x = f.matrix(o.x);
    const auto y = f.matrix(o.y);
    const std::size_t labels = y.rows * y.cols;
    if (y.rows != 1 && y.cols != 1 && labels > 0)
        detail::fail(path, ": variable '", o.y, "': expected a vector of labels, found a ", y.rows, " x ", y.cols, " matrix");
    if (labels != x.rows)
        detail::fail(path, ": expected one label per sample (", x.rows, " rows in '", o.x, "'), found ", labels, " in '",
                     o.y, "'");
    const std::size_t m = o.limit ? std::min(o.limit, x.rows) : x.rows;
    xt::xtensor<T, 2> xs = xt::xtensor<T, 2>::from_shape({m, x.cols});
    xt::xtensor<int, 1> ys = xt::xtensor<int, 1>::from_shape({m});
    for (std::size_t i = 0; i < m * x.cols; ++i) xs.data()[i] = T(x.data[i]);
    const int offset = o.one_based ? 1 : 0;
    for (std::size_t i = 0; i < m; ++i) {
        const double v = y.data[i];
        if (!(v == std::floor(v)) || v - offset < 0 || v > 1e9)
            detail::fail(path, ": variable '", o.y, "': expected whole-number labels >= ", offset,
                         o.one_based ? " (the seed's 1-based classes; pass one_based = false for 0-based)" : "",
                         ", found ", v, " at sample ", i);
        ys(i) = int(v) - offset;
    }
    return Dataset<T>(std::move(xs), std::move(ys), path);
}

// A net from the Theta matrices of a .mat file: Theta1, Theta2, ... (as many as follow in a
// row), Theta_l of size units_out x (1 + units_in), bias in column 0: the seed's layout, and
// pnn::Mlp's.
template <class T>
Mlp<T> load_mat_net(const std::string& path, const std::string& prefix = "Theta") {
    detail::MatFile f(path);
    std::vector<detail::MatFile::Matrix> thetas;
    while (f.has(prefix + std::to_string(thetas.size() + 1))) thetas.push_back(f.matrix(prefix + std::to_string(thetas.size() + 1)));
    if (thetas.empty()) detail::fail(path, ": expected variables ", prefix, "1, ", prefix, "2, ..., found none (variables: ", f.names(), ")");
    std::vector<std::size_t> sizes{thetas[0].cols - (thetas[0].cols > 0 ? 1 : 0)};
    for (std::size_t l = 0; l < thetas.size(); ++l) {
        const auto& t = thetas[l];
        if (t.rows == 0 || t.cols < 2)
            detail::fail(path, ": ", prefix, l + 1, ": expected units_out x (1 + units_in) with both at least 1, found ", t.rows,
                         " x ", t.cols);
        if (t.cols != 1 + sizes.back())
            detail::fail(path, ": ", prefix, l + 1, ": expected ", 1 + sizes.back(), " columns (1 + the ", sizes.back(),
                         " units before it), found ", t.cols);
        sizes.push_back(t.rows);
    }
    Mlp<T> net(sizes);
    T* p = net.parameters();
    for (const auto& t : thetas) {
        for (std::size_t k = 0; k < t.rows * t.cols; ++k) {
            const double v = t.data[k];
            if (!std::isfinite(v)) detail::fail(path, ": expected finite weights, found ", v);
            *p++ = T(v);
        }
    }
    return net;
}

}  // namespace pnn
