// defines: pnn::detail::check_mat_structure, a check of a .mat file's structure that pnn runs
// before libmatio sees the file. matio trusts the sizes a file declares: fuzzing found a
// 632-byte v5 file whose header made Mat_VarReadInfo allocate 4 GB. This walk checks every size
// against the bytes that hold it, so hostile sizes are refused with a pnn::error naming the file.
//
// What it checks:
// - v5: every data element and, inside a matrix, every subelement fits in what contains it.
//   Compressed elements are inflated, up to 2 GiB, to check what they hold.
// - v4: each variable's name and data fit in the file.
// - v7.3 files are HDF5 files, and are handed to HDF5 as they are (see docs/data-formats.md).
//
// References: MathWorks, "MAT-File Format" (v5: a 128-byte header, then tagged data elements;
// miMATRIX = 14 holds subelements; miCOMPRESSED = 15 holds one zlib-compressed element; a tag
// whose upper 16 bits are non-zero is a "small" element of at most 4 bytes).
#pragma once
#include "pnn/config.hpp"
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "pnn/error.hpp"

namespace pnn::detail {

class MatStructure {
public:
    MatStructure(const std::string& path, std::vector<unsigned char> bytes) : path_(path), bytes_(std::move(bytes)) {}

    void check() {
        if (bytes_.size() >= 128 && (is(126, 'I', 'M') || is(126, 'M', 'I'))) {
            swap_ = is(126, 'M', 'I');
            const std::uint16_t version = u16(bytes_.data() + 124);
            if (version == 0x0200) return;  // v7.3: an HDF5 file
            if (version == 0x0100) return elements(bytes_.data() + 128, bytes_.size() - 128, 0);
        }
        v4();
    }

private:
    static constexpr std::uint32_t mi_matrix = 14, mi_compressed = 15;
    static constexpr std::size_t max_inflated = std::size_t(1) << 31;
    static constexpr int max_depth = 32;  // cells of cells of ...

    bool is(std::size_t at, char a, char b) const { return bytes_[at] == a && bytes_[at + 1] == b; }
    std::uint16_t u16(const unsigned char* p) const {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        return swap_ ? std::uint16_t((v >> 8) | (v << 8)) : v;
    }
    std::uint32_t u32(const unsigned char* p) const {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return swap_ ? __builtin_bswap32(v) : v;
    }
    [[noreturn]] void bad(const std::string& what) const {
        fail(path_, ": expected a well-formed MATLAB .mat file, found ", what, " (checked before matio reads it)");
    }

    // The data elements in [p, p + n): each tag's size within what is left.
    void elements(const unsigned char* p, std::size_t n, int depth) {
        if (depth > max_depth) bad("matrices nested more than " + std::to_string(max_depth) + " deep");
        while (n > 0) {
            if (n < 8) bad("a data element's tag cut short: " + std::to_string(n) + " bytes left");
            const std::uint32_t first = u32(p);
            if (first >> 16) {  // small data element: type and size in one word, data in the next
                if ((first >> 16) > 4) bad("a small data element of " + std::to_string(first >> 16) + " bytes (at most 4)");
                p += 8;
                n -= 8;
                continue;
            }
            const std::uint32_t type = first, size = u32(p + 4);
            p += 8;
            n -= 8;
            if (size > n)
                bad("a data element (type " + std::to_string(type) + ") of " + std::to_string(size) + " bytes where " +
                    std::to_string(n) + " are left");
            if (type == mi_matrix) {
                matrix_count(p, size);
                elements(p, size, depth + 1);
            }
            if (type == mi_compressed) compressed(p, size, depth);
            // Elements are padded to 8 bytes, but for compressed ones (and the padding may be
            // missing at the very end).
            const std::size_t step = type == mi_compressed ? size : std::min<std::size_t>(n, (std::size_t(size) + 7) / 8 * 8);
            p += step;
            n -= step;
        }
    }

    // A matrix's element count against its bytes, for the classes whose elements are matrices of
    // their own (cell, struct, object, function, opaque): each takes at least an 8-byte tag, and
    // matio's Mat_VarReadInfo allocates a pointer per element from the dimensions alone (fuzzing
    // found a 632-byte file of class 16 with 268435460 x 7 elements: a 15 GB request). The array
    // flags (class in the low byte) and the dimensions are the first two subelements; where they
    // are not well formed, elements() says so.
    //
    // The array flags must be what the format says, two 32-bit words (miUINT32, 8 bytes): matio
    // reads 8 bytes whatever their tag claims and takes the dimensions from right after them
    // (fuzzing found a file whose flags claimed 136 bytes, which hid its dimensions from this
    // check but not from matio: a 15 GB request).
    void matrix_count(const unsigned char* p, std::size_t n) const {
        if (n == 0) return;  // an empty matrix (as a cell may hold)
        if (n < 16 || u32(p) != 6 || u32(p + 4) != 8)
            bad("a matrix whose array flags are not two 32-bit words (" +
                (n < 16 ? std::to_string(n) + " bytes in all" : "type " + std::to_string(u32(p)) + ", " + std::to_string(u32(p + 4)) + " bytes") + ")");
        const std::uint32_t cls = u32(p + 8) & 0xff;
        if (cls != 1 && cls != 2 && cls != 3 && cls != 16 && cls != 17) return;
        const std::size_t flags = 16;
        if (flags + 8 > n) return;
        const unsigned char* d = p + flags;
        const std::uint32_t tag = u32(d);
        const std::size_t dim_bytes = (tag >> 16) ? (tag >> 16) : u32(d + 4);
        const unsigned char* dims = d + ((tag >> 16) ? 4 : 8);
        if (dims + dim_bytes > p + n) return;
        double count = 1;
        for (std::size_t i = 0; i + 4 <= dim_bytes; i += 4) count *= double(u32(dims + i));
        if (count > double(n) / 8)
            bad("a matrix of class " + std::to_string(cls) + " with " +
                std::to_string(static_cast<unsigned long long>(std::min(count, 1.8e19))) + " elements in " +
                std::to_string(n) + " bytes");
    }

    // One compressed element: inflated (up to max_inflated bytes) and checked like the rest.
    void compressed(const unsigned char* p, std::size_t n, int depth) {
        std::vector<unsigned char> out;
        z_stream z{};
        if (inflateInit(&z) != Z_OK) bad("zlib could not start");
        z.next_in = const_cast<unsigned char*>(p);
        z.avail_in = uInt(n);
        int status = Z_OK;
        unsigned char chunk[1 << 16];
        while (status == Z_OK) {
            z.next_out = chunk;
            z.avail_out = sizeof chunk;
            status = inflate(&z, Z_NO_FLUSH);
            out.insert(out.end(), chunk, chunk + (sizeof chunk - z.avail_out));
            if (out.size() > max_inflated) status = Z_MEM_ERROR;
            if (status == Z_OK && z.avail_in == 0 && z.avail_out != 0) break;  // input used up, stream not ended
        }
        inflateEnd(&z);
        if (status != Z_STREAM_END && status != Z_OK)
            bad(out.size() > max_inflated ? "a compressed element that inflates past 2 GiB"
                                          : "a compressed element that zlib cannot inflate (" + std::to_string(status) + ")");
        elements(out.data(), out.size(), depth + 1);
    }

    // v4: a 20-byte header per variable (type, rows, columns, imaginary flag, name length), the
    // name, then rows x columns values (twice with an imaginary part).
    void v4() {
        const unsigned char* p = bytes_.data();
        std::size_t n = bytes_.size();
        if (n < 20) bad("shorter than a header (" + std::to_string(n) + " bytes)");
        while (n > 0) {
            if (n < 20) bad("a variable's header cut short: " + std::to_string(n) + " bytes left");
            std::uint32_t h[5];
            std::memcpy(h, p, sizeof h);
            if (h[0] > 10000) {  // the type's digits say the byte order: big-endian writers
                swap_ = true;
                for (auto& v : h) v = __builtin_bswap32(v);
            }
            const std::uint32_t type = h[0] % 10000, precision = (type / 10) % 10;
            static const std::size_t bytes_of[] = {8, 4, 4, 2, 2, 1};
            if (precision > 5) bad("a v4 variable of unknown precision " + std::to_string(precision));
            // in 128 bits: rows x columns x 2 (complex) x 8 bytes can pass 2^64 and wrap
            using wide = detail::uint128;
            const wide need = wide(h[4]) + wide(h[1]) * h[2] * (h[3] ? 2 : 1) * bytes_of[precision];
            if (need > n - 20)
                bad("a v4 variable of " + std::to_string(h[1]) + " x " + std::to_string(h[2]) + " values and a " +
                    std::to_string(h[4]) + "-byte name where " + std::to_string(n - 20) + " bytes are left");
            p += 20 + std::size_t(need);
            n -= 20 + std::size_t(need);
        }
    }

    const std::string& path_;
    std::vector<unsigned char> bytes_;
    bool swap_ = false;
};

// Throws pnn::error naming path unless its structure is sound (see above).
inline void check_mat_structure(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open");
    MatStructure(path, std::vector<unsigned char>(std::istreambuf_iterator<char>(f), {})).check();
}

}  // namespace pnn::detail
