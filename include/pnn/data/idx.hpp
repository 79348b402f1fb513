// defines: pnn::load_idx and its parts, the reader of the IDX format of MNIST and Fashion-MNIST,
// gzip-compressed or plain (zlib reads both).
//
// The format (big-endian): bytes 0-1 zero, byte 2 the element type (0x08 = unsigned byte, the
// only type image and label files use), byte 3 the number of dimensions d, then d 32-bit sizes,
// then the elements in row-major order. Images are n x rows x cols (any d >= 2: every dimension
// after the first is flattened into features), labels are n.
#pragma once
#include "pnn/config.hpp"
#include <sys/stat.h>
#include <zlib.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "pnn/data/dataset.hpp"
#include "pnn/error.hpp"
#include "pnn/util/memory.hpp"

namespace pnn {

// A range of samples [lo, hi); the default is every sample of the file.
struct Rows {
    std::size_t lo = 0;
    std::size_t hi = std::numeric_limits<std::size_t>::max();
};

struct IdxOptions {
    int classes = 10;  // labels must lie in 0..classes-1; 0 = do not check
    Rows rows{};       // load only these samples (for a rank that holds part of the data)
};

namespace detail {

struct IdxHeader {
    std::vector<std::size_t> dims;
    std::size_t header_bytes = 0;
    std::size_t samples() const { return dims.empty() ? 0 : dims[0]; }
    std::size_t per_sample() const {
        std::size_t n = 1;
        for (std::size_t i = 1; i < dims.size(); ++i) n *= dims[i];
        return n;
    }
};

// An open IDX file whose header has been read and checked against the file's length, so that
// nothing is allocated from sizes the file cannot back.
class IdxFile {
public:
    IdxFile(const std::string& path, std::size_t min_dims, std::size_t max_dims, const char* what) : path_(path) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) fail(path, ": cannot open ", what, " file (no such file or not readable)");
        if (!S_ISREG(st.st_mode)) fail(path, ": expected a regular ", what, " file, found something else");
        const std::size_t disk_bytes = std::size_t(st.st_size);
        const bool gz = is_gzip(path, disk_bytes);
        file_.reset(gzopen(path.c_str(), "rb"));
        if (!file_) fail(path, ": cannot open ", what, " file");
        gzbuffer(file_.get(), 1 << 17);

        unsigned char magic[4];
        read_exact(magic, 4, "the 4-byte magic number");
        if (magic[0] != 0 || magic[1] != 0)
            fail(path, ": not an IDX file: expected magic bytes 00 00, found ", hex(magic[0]), " ", hex(magic[1]));
        if (magic[2] != 0x08)
            fail(path, ": expected IDX element type 0x08 (unsigned byte), found ", hex(magic[2]));
        const std::size_t d = magic[3];
        if (d < min_dims || d > max_dims)
            fail(path, ": expected an IDX ", what, " file with ", min_dims == max_dims ? "" : "at least ", min_dims,
                 " dimension", min_dims == 1 ? "" : "s", ", found ", d);
        for (std::size_t i = 0; i < d; ++i) {
            unsigned char b[4];
            read_exact(b, 4, "the dimension sizes");
            header_.dims.push_back(std::size_t(b[0]) << 24 | std::size_t(b[1]) << 16 | std::size_t(b[2]) << 8 | b[3]);
        }
        header_.header_bytes = 4 + 4 * d;
        if (header_.samples() == 0) fail(path, ": expected at least one sample, found a header of 0 samples");
        // n * per_sample fits easily in 64 bits: each of at most 255 dimensions is < 2^32, and
        // we stop multiplying once the product passes what any file could hold.
        detail::uint128 payload = header_.samples();
        for (std::size_t i = 1; i < d; ++i) {
            payload *= header_.dims[i];
            if (payload > (detail::uint128)1 << 62) fail(path, ": header dimensions describe more than 2^62 bytes");
        }
        const std::size_t expected = header_.header_bytes + std::size_t(payload);
        if (gz) {
            // The gzip trailer holds the uncompressed length mod 2^32; deflate cannot expand data
            // more than 1032:1, which bounds what the compressed file can hold.
            const std::uint32_t isize = gzip_isize(path, disk_bytes);
            if (expected > disk_bytes * 1032 || std::uint32_t(expected) != isize)
                fail(path, ": header dimensions ", dims_text(), " need ", expected, " bytes, but the gzip file holds ",
                     isize, " bytes uncompressed (mod 2^32): truncated or not this file's header");
        } else if (expected != disk_bytes) {
            fail(path, ": header dimensions ", dims_text(), " need ", expected, " bytes, found a file of ", disk_bytes,
                 " bytes", expected > disk_bytes ? " (truncated)" : " (trailing bytes)");
        }
    }

    const IdxHeader& header() const { return header_; }
    const std::string& path() const { return path_; }

    // Reads the bytes of samples [lo, hi) and hands them to sink(pointer, count) in chunks.
    template <class Sink>
    void read_samples(std::size_t lo, std::size_t hi, Sink&& sink) {
        const std::size_t per = header_.per_sample();
        if (gzseek(file_.get(), z_off_t(header_.header_bytes + lo * per), SEEK_SET) < 0)
            fail(path_, ": cannot seek to sample ", lo, ": ", gz_message());
        std::vector<unsigned char> chunk(std::size_t(1) << 20);
        for (std::size_t left = (hi - lo) * per; left > 0;) {
            const std::size_t n = std::min(left, chunk.size());
            read_exact(chunk.data(), n, "the samples");
            sink(chunk.data(), n);
            left -= n;
        }
    }

private:
    struct GzClose {
        void operator()(gzFile f) const { gzclose(f); }
    };

    static std::string hex(unsigned v) {
        char b[8];
        std::snprintf(b, sizeof b, "0x%02x", v);
        return b;
    }
    std::string dims_text() const {
        std::string s;
        for (std::size_t i = 0; i < header_.dims.size(); ++i) s += (i ? " x " : "") + std::to_string(header_.dims[i]);
        return s;
    }
    std::string gz_message() const {
        int code = 0;
        const char* m = gzerror(file_.get(), &code);
        return code == Z_OK ? "unexpected end of file" : m;
    }
    static bool is_gzip(const std::string& path, std::size_t bytes) {
        if (bytes < 2) return false;
        std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
        unsigned char b[2] = {0, 0};
        return f && std::fread(b, 1, 2, f.get()) == 2 && b[0] == 0x1f && b[1] == 0x8b;
    }
    static std::uint32_t gzip_isize(const std::string& path, std::size_t bytes) {
        if (bytes < 18) fail(path, ": gzip file of ", bytes, " bytes is shorter than a gzip header and trailer (18 bytes)");
        std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
        unsigned char b[4];
        if (!f || std::fseek(f.get(), -4, SEEK_END) != 0 || std::fread(b, 1, 4, f.get()) != 4)
            fail(path, ": cannot read the gzip trailer");
        return std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 | std::uint32_t(b[3]) << 24;
    }
    void read_exact(void* dst, std::size_t n, const char* what) {
        auto* p = static_cast<unsigned char*>(dst);
        while (n > 0) {
            const unsigned ask = unsigned(std::min<std::size_t>(n, 1u << 30));
            const int got = gzread(file_.get(), p, ask);
            if (got <= 0) fail(path_, ": truncated or corrupt while reading ", what, " (", gz_message(), ")");
            p += got;
            n -= std::size_t(got);
        }
    }

    std::string path_;
    std::unique_ptr<gzFile_s, GzClose> file_;
    IdxHeader header_;
};

inline void check_rows(const IdxFile& f, Rows& rows) {
    const std::size_t n = f.header().samples();
    if (rows.hi == Rows{}.hi) rows.hi = n;
    if (rows.lo > rows.hi || rows.hi > n)
        fail(f.path(), ": expected a sample range within 0..", n, ", found [", rows.lo, ", ", rows.hi, ")");
}

}  // namespace detail

// The number of samples an IDX file's header announces (its first dimension), after checking
// the header against the file's length; reads no payload.
inline std::size_t idx_samples(const std::string& path) {
    return detail::IdxFile(path, 1, 255, "IDX").header().samples();
}

// Images as a matrix, one row per sample, pixels scaled from 0..255 to [0, 1].
template <class T>
xt::xtensor<T, 2> load_idx_images(const std::string& path, Rows rows = {}) {
    detail::IdxFile f(path, 2, 255, "image");
    detail::check_rows(f, rows);
    std::array<T, 256> scale;
    for (int v = 0; v < 256; ++v) scale[v] = T(v / 255.0);
    const std::size_t m = rows.hi - rows.lo, n = f.header().per_sample();
    xt::xtensor<T, 2> x = detail::allocating(m * n, sizeof(T), path + ": its images", [&] {
        return xt::xtensor<T, 2>::from_shape({m, n});
    });
    T* out = x.data();
    f.read_samples(rows.lo, rows.hi, [&](const unsigned char* b, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) *out++ = scale[b[i]];
    });
    return x;
}

// Labels as integers; with classes > 0, each must lie in 0..classes-1.
inline xt::xtensor<int, 1> load_idx_labels(const std::string& path, int classes = 10, Rows rows = {}) {
    detail::IdxFile f(path, 1, 1, "label");
    detail::check_rows(f, rows);
    xt::xtensor<int, 1> y = detail::allocating(rows.hi - rows.lo, sizeof(int), path + ": its labels", [&] {
        return xt::xtensor<int, 1>::from_shape({rows.hi - rows.lo});
    });
    std::size_t i = 0;
    f.read_samples(rows.lo, rows.hi, [&](const unsigned char* b, std::size_t n) {
        for (std::size_t k = 0; k < n; ++k, ++i) {
            if (classes > 0 && b[k] >= classes)
                detail::fail(path, ": expected labels in 0..", classes - 1, ", found ", int(b[k]), " at sample ",
                             rows.lo + i);
            y(i) = b[k];
        }
    });
    return y;
}

// An image file and its label file as one dataset; both must hold the same number of samples.
template <class T>
Dataset<T> load_idx(const std::string& images_path, const std::string& labels_path, IdxOptions opt = {}) {
    // Compare the sample counts of the two headers before reading either payload.
    const std::size_t n_images = detail::IdxFile(images_path, 2, 255, "image").header().samples();
    const std::size_t n_labels = detail::IdxFile(labels_path, 1, 1, "label").header().samples();
    if (n_images != n_labels)
        detail::fail(labels_path, ": expected as many labels as ", images_path, " has images (", n_images, "), found ",
                     n_labels);
    return Dataset<T>(load_idx_images<T>(images_path, opt.rows), load_idx_labels(labels_path, opt.classes, opt.rows),
                      images_path);
}

}  // namespace pnn
