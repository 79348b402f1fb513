// Writes the fuzzers' seed corpora (small valid files of each format) into DIR/<target>/:
// an IDX image file and a label file, the image file gzipped, a .mat dataset and net (matio),
// a checkpoint. scripts/fuzz runs it before fuzzing, so the seeds always match the readers.
//
//   make_seeds DIR
#include <matio.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <pnn/pnn.hpp>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::vector<unsigned char>& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<unsigned char> idx(std::vector<std::uint32_t> dims, std::size_t payload) {
    std::vector<unsigned char> b{0, 0, 0x08, (unsigned char)dims.size()};
    for (auto d : dims)
        for (int s = 24; s >= 0; s -= 8) b.push_back((unsigned char)(d >> s));
    for (std::size_t i = 0; i < payload; ++i) b.push_back((unsigned char)(i * 37 % 10));
    return b;
}

void mat_variable(mat_t* f, const char* name, std::size_t rows, std::size_t cols, double first) {
    std::vector<double> v(rows * cols);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = first + double(i % 10);
    std::size_t dims[2] = {rows, cols};
    matvar_t* m = Mat_VarCreate(name, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, v.data(), 0);
    Mat_VarWrite(f, m, MAT_COMPRESSION_NONE);
    Mat_VarFree(m);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    const fs::path dir = argv[1];
    const auto images = idx({3, 2, 2}, 12), labels = idx({3}, 3);
    write(dir / "idx_images" / "seed.idx", images);
    write(dir / "idx_labels" / "seed.idx", labels);
    write(dir / "idx_gzip" / "seed.idx", images);  // the fuzzer gzips what it is given
    fs::create_directories(dir / "mat");
    for (const char* version : {"v5", "v73"}) {
        const std::string path = (dir / "mat" / (std::string("seed-") + version + ".mat")).string();
        mat_t* f = Mat_CreateVer(path.c_str(), nullptr, std::string(version) == "v5" ? MAT_FT_MAT5 : MAT_FT_MAT73);
        if (!f) continue;  // a matio without HDF5 writes no v7.3
        mat_variable(f, "X", 4, 3, 0.1);
        mat_variable(f, "y", 4, 1, 1);
        mat_variable(f, "Theta1", 2, 4, 0.5);
        mat_variable(f, "Theta2", 3, 3, -0.5);
        Mat_Close(f);
    }
    fs::create_directories(dir / "checkpoint");
    pnn::Trainer<pnn::Mlp<float>>(pnn::Mlp<float>({3, 2, 2}, 1)).save_checkpoint((dir / "checkpoint" / "seed.ckpt").string());
    return 0;
}
