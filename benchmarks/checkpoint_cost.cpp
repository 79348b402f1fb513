// checkpoint_cost: what a checkpoint costs against the disk's own cost for the same bytes.
// A 784-1024-1024-10 float32 net with momentum (about 15 MB): Trainer::save_checkpoint (encode,
// CRC-32, temporary file, fsync, rename, folder fsync) against plain write + fsync of as many
// bytes to a file in the same folder, alternating, medians of --repeats each.
// Prints "save_checkpoint float32 median min max" and "write_fsync float32 median min max" (ms).
//
//   checkpoint_cost [--repeats N] [--dir FOLDER]
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench.hpp"

int main(int argc, char** argv) {
    int repeats = 15;
    std::string dir = std::filesystem::temp_directory_path().string();
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
        else if (a == "--dir") dir = argv[i + 1];
        else {
            std::fprintf(stderr, "checkpoint_cost: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    const std::string ckpt = dir + "/pnn-checkpoint-cost.ckpt", plain = dir + "/pnn-checkpoint-cost.bin";
    pnn::Trainer<pnn::Mlp<float>> t(pnn::Mlp<float>({784, 1024, 1024, 10}, 1));
    t.save_checkpoint(ckpt);
    const std::size_t bytes = std::filesystem::file_size(ckpt);
    std::vector<unsigned char> data(bytes, 7);
    std::vector<double> save_ms, write_ms;
    for (int r = 0; r < repeats + 2; ++r) {
        auto start = bench::clock_type::now();
        t.save_checkpoint(ckpt);
        const double s = std::chrono::duration<double, std::milli>(bench::clock_type::now() - start).count();
        start = bench::clock_type::now();
        const int fd = ::open(plain.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || ::write(fd, data.data(), data.size()) != ssize_t(data.size()) || ::fsync(fd) != 0) {
            std::perror(plain.c_str());
            return 1;
        }
        ::close(fd);
        const double w = std::chrono::duration<double, std::milli>(bench::clock_type::now() - start).count();
        if (r >= 2) {
            save_ms.push_back(s);
            write_ms.push_back(w);
        }
    }
    std::remove(ckpt.c_str());
    std::remove(plain.c_str());
    std::printf("bytes %zu\n", bytes);
    bench::report("save_checkpoint", "float32", bench::stats(save_ms));
    bench::report("write_fsync", "float32", bench::stats(write_ms));
}
