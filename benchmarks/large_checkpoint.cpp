// large_checkpoint: the byte paths past 2 GiB, for real (opt-in: it needs about 12 GB of memory
// a rank, so no test runs it). A float32 net of about 300 M parameters (10000-30000-10) with
// momentum makes a checkpoint of 2.4 GB: one Sgd step on a few rows, a save (collective: rank 0
// writes), a second step (the weights move on), a load (rank 0 reads; its 2.4 GB reach every
// rank in pieces of at most 2^30 bytes, as an int cannot count them), and the weights must be
// the saved ones bit for bit on every rank. Prints the file's size and the save's and load's
// seconds; exits non-zero on any difference.
//
//   mpirun -np 2 large_checkpoint [--dir FOLDER] [--hidden H]
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <pnn/comm/mpi.hpp>
#include <pnn/pnn.hpp>

int main(int argc, char** argv) {
    pnn::MpiSession session(&argc, &argv);
    std::string dir = std::filesystem::temp_directory_path().string();
    std::size_t hidden = 30000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--dir") dir = argv[i + 1];
        else if (a == "--hidden") hidden = std::stoul(argv[i + 1]);
        else {
            std::fprintf(stderr, "large_checkpoint: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    using clock = std::chrono::steady_clock;
    const std::string path = dir + "/pnn-large-checkpoint.ckpt";
    try {
        pnn::Mpi comm(MPI_COMM_WORLD);
        const std::size_t inputs = 10000;
        xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({8, inputs});
        xt::xtensor<int, 1> y = xt::xtensor<int, 1>::from_shape({8});
        for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(i % 7) / 7.0f;
        for (std::size_t i = 0; i < y.size(); ++i) y(i) = int(i % 10);
        const pnn::Dataset<float> data(std::move(x), std::move(y), "rows");
        pnn::Trainer<pnn::Mlp<float>, pnn::Cpu, pnn::Mpi> t(pnn::Mlp<float>({inputs, hidden, 10}, 1), comm);
        pnn::Sgd opt;
        opt.iterations = 1;
        opt.learning_rate = 0.1;
        t.fit(data, opt);
        auto start = clock::now();
        t.save_checkpoint(path);
        const double save_s = std::chrono::duration<double>(clock::now() - start).count();
        const std::size_t p = t.net().parameter_count();
        const std::vector<float> saved(t.net().parameters(), t.net().parameters() + p);
        t.fit(data, opt);
        const bool moved = std::memcmp(saved.data(), t.net().parameters(), p * sizeof(float)) != 0;
        start = clock::now();
        t.load_checkpoint(path);
        const double load_s = std::chrono::duration<double>(clock::now() - start).count();
        int same = std::memcmp(saved.data(), t.net().parameters(), p * sizeof(float)) == 0 && moved && t.step() == 1;
        MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        if (comm.rank() == 0) {
            const auto bytes = std::filesystem::file_size(path);
            std::printf("large_checkpoint: %zu parameters, %d ranks, checkpoint %.3f GB (%s 2 GiB), save %.2f s, "
                        "load %.2f s, weights after the load %s\n",
                        p, comm.size(), double(bytes) / 1e9, bytes > (std::uintmax_t(1) << 31) ? "over" : "NOT over", save_s,
                        load_s, same ? "the saved ones bit for bit on every rank" : "DIFFERENT");
            std::filesystem::remove(path);
        }
        return same ? 0 : 1;
    } catch (const pnn::error& e) {
        if (!e.reported_elsewhere()) std::fprintf(stderr, "large_checkpoint: %s\n", e.what());
        return 1;
    }
}
