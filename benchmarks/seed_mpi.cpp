// seed_mpi: the seed's workload (5000 x 400, net 400-25-10, full batch, one thread per rank)
// trained with pnn::Mpi, run under mpirun; rank 0 reports, in the format of seed_iteration:
//   pnn_mpi            ms per iteration
//   pnn_mpi_reduction  ms per iteration in the reduction stage (gradient and cost sums), mean
//   bare_in_loop       the same stage with pnn's reduction replaced by one bare MPI_Allreduce of
//                      the gradient's bytes on MPI_COMM_WORLD (no watchdog, no cost): what MPI
//                      itself takes at that point of the loop, with the caches as training leaves
//                      them; mean
//   bare_allreduce     ms of one MPI_Allreduce of the same gradient bytes in a loop of its own
//                      after a barrier (hot caches): its mean in the median column
// The two reduction stages are timed in alternating fits (pnn, bare, pnn, ...), 5 each
// (--reduction-rounds R; 0 times the iteration only). --stages 1 also prints the stage breakdown
// of a recorded fit ("stage pnn_mpi PRECISION STAGE ms", rank 0's).
//
//   mpirun -np 2 seed_mpi [--repeats N] [--precision float|double] [--samples M] [--hidden H]
//                         [--data-dir FASHION_MNIST_DIR] [--reduction-rounds R] [--stages 0|1]
//
// With --data-dir the samples are Fashion-MNIST's first M training images (784 inputs).
#include <mpi.h>

#include <cstdio>
#include <string>

#include "bench.hpp"

namespace {

using namespace bench;

// pnn::Mpi with its gradient reduction replaced by a bare MPI_Allreduce (the cost is left
// unsummed: only the time matters here). The Trainer takes any Comm policy.
struct BareReduction : pnn::Mpi {
    BareReduction() : pnn::Mpi(MPI_COMM_WORLD) {}
    template <class T>
    void reduce_gradient(T* p, std::size_t n, double&, bool, bool = true) const {
        MPI_Allreduce(MPI_IN_PLACE, p, int(n), pnn::detail::mpi_type<T>(), MPI_SUM, MPI_COMM_WORLD);
    }
};

// Mean ms per iteration of the reduction stage over a recorded fit.
template <class Trainer, class T>
double reduction_stage(Trainer& t, const pnn::Dataset<T>& d, int repeats) {
    record_and_report_stages(t, d, repeats, "", "", false);
    return 1e3 * t.stages().reduction / double(t.stages().iterations);
}

template <class T>
void run(const char* precision, const std::string& dir, std::size_t m, std::size_t h, int repeats, int rounds,
         bool stages) {
    const auto d = workload<T>(dir, m, 400);  // every rank holds it all and takes its rows
    const pnn::Mlp<T> net({d.features(), h, 10}, 1);
    pnn::Trainer<pnn::Mlp<T>, pnn::Cpu, pnn::Mpi> t(net, pnn::Mpi{});
    pnn::Trainer<pnn::Mlp<T>, pnn::Cpu, BareReduction> bare_trainer(net, BareReduction{});
    const Stats plain = time_fit(t, d, repeats);
    if (stages) record_and_report_stages(t, d, repeats, "pnn_mpi", precision, t.comm().rank() == 0);
    double reduction = 0, in_loop = 0;
    for (int round = 0; round < rounds; ++round) {
        reduction += reduction_stage(t, d, repeats) / rounds;
        in_loop += reduction_stage(bare_trainer, d, repeats) / rounds;
    }

    if (rounds == 0) {
        if (t.comm().rank() == 0) report("pnn_mpi", precision, plain);
        return;
    }
    std::vector<T> buffer(t.net().parameter_count(), T(1));
    std::vector<double> bare;
    for (int r = 0; r < 10 * repeats; ++r) {
        MPI_Barrier(MPI_COMM_WORLD);
        const auto start = clock_type::now();
        MPI_Allreduce(MPI_IN_PLACE, buffer.data(), int(buffer.size()), pnn::detail::mpi_type<T>(), MPI_SUM,
                      MPI_COMM_WORLD);
        bare.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
    }
    if (t.comm().rank() != 0) return;
    report("pnn_mpi", precision, plain);
    report("pnn_mpi_reduction", precision, {reduction, reduction, reduction});
    report("bare_in_loop", precision, {in_loop, in_loop, in_loop});
    Stats b = stats(bare);
    double mean = 0;
    for (double v : bare) mean += v / double(bare.size());
    b.median = mean;
    report("bare_allreduce", precision, b);
}

}  // namespace

int main(int argc, char** argv) {
    pnn::MpiSession session(&argc, &argv);
    int repeats = 50, rounds = 5;
    bool stages = false;
    std::size_t m = 5000, h = 25;
    std::string only, dir;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
        else if (a == "--precision") only = argv[i + 1];
        else if (a == "--samples") m = std::stoul(argv[i + 1]);
        else if (a == "--hidden") h = std::stoul(argv[i + 1]);
        else if (a == "--data-dir") dir = argv[i + 1];
        else if (a == "--reduction-rounds") rounds = std::stoi(argv[i + 1]);
        else if (a == "--stages") stages = std::string(argv[i + 1]) != "0";
        else {
            std::fprintf(stderr, "seed_mpi: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    pnn::Cpu::set_threads(1);
    if (only.empty() || only == "double") run<double>("float64", dir, m, h, repeats, rounds, stages);
    if (only.empty() || only == "float") run<float>("float32", dir, m, h, repeats, rounds, stages);
}
