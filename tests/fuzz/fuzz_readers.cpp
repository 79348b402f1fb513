// libFuzzer targets for every reader of outside bytes. One source, one target per reader, chosen
// at compile time (PNN_FUZZ_TARGET): idx_images, idx_labels, idx_gzip, mat, checkpoint.
// Each writes the input to a file (the loaders read files, as users call them) and loads it;
// a pnn::error is the expected answer to bad bytes, anything else (a crash, a sanitizer
// report, a leak, a hang) is a finding. Built and run by scripts/fuzz.
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <pnn/pnn.hpp>
#include <string>

namespace {

// This process's scratch file, removed at exit.
const std::string& scratch() {
    static const std::string path = [] {
        const std::string p = "/tmp/pnn-fuzz-" + std::to_string(::getpid()) + ".bin";
        std::atexit([] { std::remove(("/tmp/pnn-fuzz-" + std::to_string(::getpid()) + ".bin").c_str()); });
        return p;
    }();
    return path;
}

void write_file(const std::uint8_t* data, std::size_t size, bool gzip) {
    if (gzip) {
        gzFile f = gzopen(scratch().c_str(), "wb1");
        if (size) gzwrite(f, data, unsigned(size));
        gzclose(f);
        return;
    }
    std::FILE* f = std::fopen(scratch().c_str(), "wb");
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string t = PNN_FUZZ_TARGET;
    try {
        if (t == "checkpoint") {  // the checkpoint reader sees the bytes as they are
            const std::vector<unsigned char> bytes(data, data + size);
            (void)pnn::checkpoint::decode(bytes, "fuzz.ckpt");
            return 0;
        }
        // A v7.3 .mat file is an HDF5 file, parsed by HDF5 itself, which pnn cannot check
        // beforehand (see docs/data-formats.md): its bytes are not fuzzed here.
        if (t == "mat" && size >= 128 && data[124] + data[125] == 2 && (data[124] == 2 || data[125] == 2)) return 0;
        write_file(data, size, t == "idx_gzip");
        if (t == "idx_images" || t == "idx_gzip") (void)pnn::load_idx_images<float>(scratch());
        else if (t == "idx_labels") (void)pnn::load_idx_labels(scratch());
        else if (t == "mat") {
            (void)pnn::load_mat<double>(scratch());
            (void)pnn::load_mat_net<double>(scratch());
        }
    } catch (const pnn::error&) {
    }
    return 0;
}
