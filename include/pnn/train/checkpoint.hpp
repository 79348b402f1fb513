// defines: pnn's checkpoint file: what a training run needs to go on (the net's sizes and element
// type, the weights, the optimizer's state), its versioned binary format, an atomic write and
// a read that checks everything before anyone uses what it read. The Trainer's
// save_checkpoint / load_checkpoint use these.
//
// The format, version 2. Every integer and float is little-endian, as written by an x86-64 or
// AArch64 host (a big-endian host refuses to read or write one):
//
//   offset  size  field
//   0       8     magic "PNNCKPT\0"
//   8       4     u32 version (2)
//   12      4     u32 header bytes H (what follows, up to the payload)
//   16      H     header:
//                   u32 element bytes (4 float, 8 double)
//                   u32 layer count L (sizes of the net: L numbers)
//                   u64 sizes[L]
//                   u8  units[L - 1]     each hidden layer's activation (0 sigmoid, 1 tanh,
//                                        2 relu), then the output (0 sigmoid, 1 softmax)
//                   u64 step                (updates applied so far)
//                   u64 parameter count P   (must match the sizes)
//                   u32 optimizer (0 = Sgd, 1 = Adam), then the last fit's settings:
//                     Sgd:  f64 learning rate, f64 momentum, f64 lambda,
//                           u64 batch size, u64 shuffle seed
//                     Adam: f64 learning rate, f64 beta1, f64 beta2, f64 epsilon,
//                           f64 weight decay, f64 lambda, u64 batch size, u64 shuffle seed,
//                           u64 t (Adam's updates since its state began)
//                   (the shuffle position is the step: an epoch's order is drawn from (seed, epoch))
//                   u32 state arrays S   (Sgd: 1, the momentum buffer; Adam: 2, m and v)
//   16+H    P*e   the weights, Θ of each layer in turn, row-major (pnn::Mlp's layout)
//           S*P*e the optimizer's state arrays, same layout each
//   end-4   4     u32 CRC-32 (zlib's) of every byte before it
//
// Version 1 (still read) lacks the units (a version-1 file is the seed's sigmoid model), the
// optimizer's kind and S: its settings are Sgd's, and the momentum buffer follows the weights.
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "pnn/error.hpp"
#include "pnn/nn/layout.hpp"
#include "pnn/nn/units.hpp"
#include "pnn/train/adam.hpp"
#include "pnn/train/optimizer.hpp"
#include "pnn/train/sgd.hpp"
#include "pnn/util/memory.hpp"

namespace pnn {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pnn's checkpoint format is little-endian; this host is not"
#endif

// What a checkpoint's header holds; the weights and the optimizer's state follow it in the file.
struct CheckpointHeader {
    std::uint32_t element_bytes = 0;
    std::vector<std::size_t> sizes;
    std::vector<Activation> activations;  // one per hidden layer
    Output output = Output::sigmoid;
    std::uint64_t step = 0;
    Optimizer settings;                   // the last fit's (iterations not stored)
    std::uint64_t optimizer_steps = 0;    // Adam's t
};

// A checkpoint read and checked: its header, and where its arrays of parameter_count elements
// (the weights, then the optimizer's state arrays) lie inside the file's bytes (valid while
// those bytes are).
struct CheckpointView {
    CheckpointHeader header;
    const unsigned char* theta = nullptr;
    std::vector<const unsigned char*> state;
    std::size_t payload_bytes = 0;  // of each
};

namespace checkpoint {

inline constexpr char magic[8] = {'P', 'N', 'N', 'C', 'K', 'P', 'T', '\0'};
inline constexpr std::uint32_t version = 2;
inline constexpr std::uint32_t sgd_optimizer = 0, adam_optimizer = 1;

// Appends v's bytes (this host is little-endian: see the #error above).
template <class V>
void put(std::vector<unsigned char>& out, V v) {
    const auto* b = reinterpret_cast<const unsigned char*>(&v);
    out.insert(out.end(), b, b + sizeof v);
}

// zlib's CRC-32 of n bytes at p, continuing from crc (0 to start).
inline std::uint32_t crc32_of(std::uint32_t crc, const unsigned char* p, std::size_t n) {
    uLong c = crc;
    for (std::size_t at = 0; at < n;) {  // zlib takes uInt lengths
        const auto chunk = static_cast<uInt>(std::min<std::size_t>(n - at, 1u << 30));
        c = crc32(c, p + at, chunk);
        at += chunk;
    }
    return static_cast<std::uint32_t>(c);
}

inline std::size_t parameter_count(const std::vector<std::size_t>& sizes) { return ThetaLayout(sizes).parameter_count(); }

// The file's bytes up to the payload: magic, version, header length, header.
inline std::vector<unsigned char> encode_header(const CheckpointHeader& h) {
    std::vector<unsigned char> header;
    put(header, h.element_bytes);
    put(header, static_cast<std::uint32_t>(h.sizes.size()));
    for (std::size_t v : h.sizes) put(header, static_cast<std::uint64_t>(v));
    for (Activation a : h.activations) put(header, static_cast<std::uint8_t>(a));
    put(header, static_cast<std::uint8_t>(h.output));
    put(header, h.step);
    put(header, static_cast<std::uint64_t>(parameter_count(h.sizes)));
    if (const Sgd* s = std::get_if<Sgd>(&h.settings)) {
        put(header, sgd_optimizer);
        put(header, s->learning_rate);
        put(header, s->momentum);
        put(header, s->lambda);
        put(header, static_cast<std::uint64_t>(s->batch_size));
        put(header, std::uint64_t(s->seed));
    } else {
        const Adam& a = std::get<Adam>(h.settings);
        put(header, adam_optimizer);
        for (double v : {a.learning_rate, a.beta1, a.beta2, a.epsilon, a.weight_decay, a.lambda}) put(header, v);
        put(header, static_cast<std::uint64_t>(a.batch_size));
        put(header, std::uint64_t(a.seed));
        put(header, h.optimizer_steps);
    }
    put(header, static_cast<std::uint32_t>(detail::state_arrays(h.settings)));
    std::vector<unsigned char> out(magic, magic + sizeof magic);
    put(out, version);
    put(out, static_cast<std::uint32_t>(header.size()));
    out.insert(out.end(), header.begin(), header.end());
    return out;
}

// A contiguous range of bytes to write.
struct Piece {
    const unsigned char* data;
    std::size_t size;
};

// Reads values off a byte range, failing (with the file's name) where it would run past its end.
class Reader {
public:
    Reader(const std::vector<unsigned char>& bytes, std::size_t end, const std::string& path)
        : bytes_(bytes), end_(end), path_(path) {}
    template <class V>
    V get(const char* what) {
        V v;
        need(sizeof v, what);
        std::memcpy(&v, bytes_.data() + at_, sizeof v);
        at_ += sizeof v;
        return v;
    }
    void skip(std::size_t n) {
        need(n, "the magic bytes");
        at_ += n;
    }
    std::size_t at() const { return at_; }

private:
    void need(std::size_t n, const char* what) const {
        if (n > end_ - at_)
            detail::fail(path_, ": not a complete pnn checkpoint: expected ", n, " more bytes for ", what, " at byte ", at_,
                         ", found ", end_ - at_);
    }
    const std::vector<unsigned char>& bytes_;
    std::size_t end_, at_ = 0;
    const std::string& path_;
};

// A checkpoint's header and arrays from its bytes, every field checked: magic, version,
// checksum, sizes against the parameter count, the file's length. `path` names the file in
// messages.
inline CheckpointView decode(const std::vector<unsigned char>& bytes, const std::string& path) {
    if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
        detail::fail(path, ": not a pnn checkpoint: expected the magic bytes \"PNNCKPT\", found ",
                     bytes.size() < sizeof magic ? "a file of " + std::to_string(bytes.size()) + " bytes" : "others");
    if (bytes.size() < sizeof magic + 12)
        detail::fail(path, ": not a complete pnn checkpoint: ", bytes.size(), " bytes, shorter than its fixed header");
    Reader r(bytes, bytes.size() - 4, path);
    r.skip(sizeof magic);
    const auto v = r.get<std::uint32_t>("the version");
    if (v != 1 && v != version)
        detail::fail(path, ": expected pnn checkpoint version 1 or ", version, ", found version ", v,
                     v > version ? " (written by a newer pnn)" : "");
    std::uint32_t stored = 0;
    std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
    const std::uint32_t computed = crc32_of(0, bytes.data(), bytes.size() - 4);
    if (stored != computed)
        detail::fail(path, ": checksum mismatch (CRC-32 stored ", stored, ", computed ", computed,
                     "): the file is corrupted or truncated");
    const auto header_bytes = r.get<std::uint32_t>("the header's length");
    const std::size_t header_start = r.at();
    CheckpointView c;
    CheckpointHeader& h = c.header;
    h.element_bytes = r.get<std::uint32_t>("the element size");
    if (h.element_bytes != 4 && h.element_bytes != 8)
        detail::fail(path, ": expected an element size of 4 (float) or 8 (double), found ", h.element_bytes);
    const auto layers = r.get<std::uint32_t>("the layer count");
    if (layers < 2 || layers > 4096) detail::fail(path, ": expected 2 to 4096 layer sizes, found ", layers);
    for (std::uint32_t l = 0; l < layers; ++l) {
        const auto size = r.get<std::uint64_t>("a layer size");
        if (size == 0 || size > (std::uint64_t(1) << 32)) detail::fail(path, ": expected layer sizes 1 to 2^32, found ", size);
        h.sizes.push_back(std::size_t(size));
    }
    h.activations.assign(layers - 2, Activation::sigmoid);  // version 1: the seed's model
    if (v >= 2) {
        for (Activation& a : h.activations) {
            const auto code = r.get<std::uint8_t>("a hidden layer's activation");
            if (code > std::uint8_t(Activation::relu))
                detail::fail(path, ": expected a hidden layer's activation 0 (sigmoid), 1 (tanh) or 2 (relu), found ", int(code));
            a = Activation(code);
        }
        const auto code = r.get<std::uint8_t>("the output");
        if (code > std::uint8_t(Output::softmax))
            detail::fail(path, ": expected the output 0 (sigmoid) or 1 (softmax), found ", int(code));
        h.output = Output(code);
    }
    h.step = r.get<std::uint64_t>("the step");
    const auto p = r.get<std::uint64_t>("the parameter count");
    std::size_t sized = 0;
    try {
        sized = parameter_count(h.sizes);
    } catch (const error&) {
        detail::fail(path, ": its layer sizes (", sizes_text(h.sizes), ") take the parameter count past 2^64");
    }
    if (p != sized) detail::fail(path, ": its sizes make ", sized, " parameters, but it says ", p);
    const auto kind = v >= 2 ? r.get<std::uint32_t>("the optimizer") : sgd_optimizer;
    if (kind == sgd_optimizer) {
        Sgd s;
        s.learning_rate = r.get<double>("the learning rate");
        s.momentum = r.get<double>("the momentum");
        s.lambda = r.get<double>("lambda");
        s.batch_size = std::size_t(r.get<std::uint64_t>("the batch size"));
        s.seed = r.get<std::uint64_t>("the shuffle seed");
        h.settings = s;
    } else if (kind == adam_optimizer) {
        Adam a;
        a.learning_rate = r.get<double>("the learning rate");
        a.beta1 = r.get<double>("beta1");
        a.beta2 = r.get<double>("beta2");
        a.epsilon = r.get<double>("epsilon");
        a.weight_decay = r.get<double>("the weight decay");
        a.lambda = r.get<double>("lambda");
        a.batch_size = std::size_t(r.get<std::uint64_t>("the batch size"));
        a.seed = r.get<std::uint64_t>("the shuffle seed");
        h.optimizer_steps = r.get<std::uint64_t>("Adam's step count");
        h.settings = a;
    } else {
        detail::fail(path, ": expected the optimizer 0 (Sgd) or 1 (Adam), found ", kind);
    }
    const std::size_t arrays = detail::state_arrays(h.settings);
    if (v >= 2) {
        const auto stored = r.get<std::uint32_t>("the count of state arrays");
        if (stored != arrays)
            detail::fail(path, ": expected ", arrays, " state array(s) for ", name_of(h.settings), ", found ", stored);
    }
    if (r.at() - header_start != header_bytes)
        detail::fail(path, ": its header says ", header_bytes, " bytes, found ", r.at() - header_start);
    // (a count whose arrays could not fit in the file fails before its bytes are multiplied out)
    if (p > (bytes.size() - r.at()) / h.element_bytes / (1 + arrays))
        detail::fail(path, ": its sizes make ", p, " parameters, more than its ", bytes.size(), " bytes can hold");
    c.payload_bytes = std::size_t(p) * h.element_bytes;
    if (bytes.size() != r.at() + (1 + arrays) * c.payload_bytes + 4)
        detail::fail(path, ": expected ", r.at() + (1 + arrays) * c.payload_bytes + 4, " bytes for ", p, " parameters, found ",
                     bytes.size());
    c.theta = bytes.data() + r.at();
    for (std::size_t i = 1; i <= arrays; ++i) c.state.push_back(c.theta + i * c.payload_bytes);
    return c;
}

namespace detail_io {
inline std::string error_text() { return std::strerror(errno); }

inline void write_all(int fd, const unsigned char* p, std::size_t n, const std::string& path) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            detail::fail(path, ": cannot write: ", error_text());
        }
        p += w;
        n -= std::size_t(w);
    }
}
}  // namespace detail_io

// Writes the pieces, one after another, to path so that a crash at any moment leaves the old
// file or the new one, never a broken one: a temporary file in the same folder, written and
// flushed to disk (fsync), renamed over path, and the folder synced so that the rename itself is
// on disk. The pieces are written where they lie: a checkpoint's arrays are never copied.
namespace detail_io {
// A new empty file beside path (path.tmp.XXXXXX), open for writing; its name goes to tmp.
inline int temporary_beside(const std::string& path, std::string& tmp) {
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        detail::fail(path, ": expected a checkpoint file's path, found a folder");
    tmp = path + ".tmp.XXXXXX";
    std::vector<char> name(tmp.begin(), tmp.end());
    name.push_back('\0');
    const int fd = ::mkstemp(name.data());
    if (fd < 0) detail::fail(path, ": cannot create a temporary file beside it: ", error_text());
    tmp = name.data();
    return fd;
}
}  // namespace detail_io

// Whether a checkpoint could be written to path (its folder exists and takes new files, and
// path is not a folder): creates and removes a temporary file there. For programs to call
// before training, so that a run does not learn at its end that its work cannot be saved.
inline void check_writable(const std::string& path) {
    std::string tmp;
    const int fd = detail_io::temporary_beside(path, tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
}

inline void write_atomically(const std::string& path, const std::vector<Piece>& pieces) {
    const std::size_t slash = path.find_last_of('/');
    const std::string folder = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string tmp;
    const int fd = detail_io::temporary_beside(path, tmp);
    try {
        for (const Piece& piece : pieces) detail_io::write_all(fd, piece.data, piece.size, tmp);
        if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) detail::fail(tmp, ": cannot flush to disk: ", detail_io::error_text());
        if (::close(fd) != 0) detail::fail(tmp, ": cannot close: ", detail_io::error_text());
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = detail_io::error_text();
        ::unlink(tmp.c_str());
        detail::fail(path, ": cannot replace it with the new checkpoint: ", why);
    }
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir < 0 || ::fsync(dir) != 0) {
        const std::string why = detail_io::error_text();
        if (dir >= 0) ::close(dir);
        detail::fail(folder, ": cannot sync the folder after saving ", path, ": ", why);
    }
    ::close(dir);
}

// Saves a checkpoint (header, then the weights and the optimizer's state arrays, each of the
// header's parameter count, raw) to path, atomically, with the CRC-32 of all of it at the end.
inline void save(const std::string& path, const CheckpointHeader& h, const void* theta, const std::vector<const void*>& state) {
    if (state.size() != detail::state_arrays(h.settings))
        detail::fail("internal: ", name_of(h.settings), " saves ", detail::state_arrays(h.settings), " state arrays, given ", state.size());
    const std::vector<unsigned char> head = encode_header(h);
    const std::size_t payload = parameter_count(h.sizes) * h.element_bytes;
    std::vector<Piece> pieces{{head.data(), head.size()}, {static_cast<const unsigned char*>(theta), payload}};
    for (const void* a : state) pieces.push_back({static_cast<const unsigned char*>(a), payload});
    std::uint32_t crc = 0;
    for (const Piece& piece : pieces) crc = crc32_of(crc, piece.data, piece.size);
    unsigned char tail[4];
    std::memcpy(tail, &crc, 4);  // little-endian host
    pieces.push_back({tail, 4});
    write_atomically(path, pieces);
}

// The whole file.
inline std::vector<unsigned char> read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) detail::fail(path, ": cannot open the checkpoint: ", detail_io::error_text());
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        detail::fail(path, ": expected a regular file");
    }
    std::vector<unsigned char> bytes;
    try {
        bytes = detail::allocating(std::size_t(st.st_size), 1, path, [&] { return std::vector<unsigned char>(std::size_t(st.st_size)); });
    } catch (...) {
        ::close(fd);
        throw;
    }
    std::size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += std::size_t(r);
    }
    ::close(fd);
    if (got != bytes.size()) detail::fail(path, ": read ", got, " of its ", bytes.size(), " bytes");
    return bytes;
}

}  // namespace checkpoint
}  // namespace pnn
