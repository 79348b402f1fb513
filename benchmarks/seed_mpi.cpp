// seed_mpi: the seed's workload (5000 x 400, net 400-25-10, full batch, one thread per rank)
// trained with pnn::Mpi, run under mpirun; rank 0 reports, in the format of seed_iteration:
//   pnn_mpi            ms per iteration
//   pnn_mpi_reduction  ms per iteration in the reduction stage (gradient and cost sums), mean
//   bare_allreduce     ms of one MPI_Allreduce of the same gradient bytes, alone: its mean in
//                      the median column, to compare with the stage's mean
//
//   mpirun -np 2 seed_mpi [--repeats N] [--precision float|double]
#include <mpi.h>

#include <string>

#include "bench.hpp"

namespace {

using namespace bench;

template <class T>
void run(const char* precision, int repeats) {
    const auto d = synthetic<T>(5000, 400, 10);  // every rank holds it all and takes its rows
    pnn::Trainer<pnn::Mlp<T>, pnn::Cpu, pnn::Mpi> t(pnn::Mlp<T>({400, 25, 10}, 1), pnn::Mpi{});
    const Stats plain = time_fit(t, d, repeats);
    t.record_stages(true);
    time_fit(t, d, repeats);
    const pnn::StageTimes& s = t.stages();
    const double reduction = 1e3 * s.reduction / double(s.iterations);

    std::vector<T> buffer(t.net().parameter_count(), T(1));
    std::vector<double> bare;
    for (int r = 0; r < 10 * repeats; ++r) {
        MPI_Barrier(MPI_COMM_WORLD);
        const auto start = clock_type::now();
        MPI_Allreduce(MPI_IN_PLACE, buffer.data(), int(buffer.size()), pnn::detail::mpi_type<T>(), MPI_SUM,
                      MPI_COMM_WORLD);
        bare.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
    }
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank != 0) return;
    report("pnn_mpi", precision, plain);
    report("pnn_mpi_reduction", precision, {reduction, reduction, reduction});
    Stats b = stats(bare);
    double mean = 0;
    for (double v : bare) mean += v / double(bare.size());
    b.median = mean;
    report("bare_allreduce", precision, b);
}

}  // namespace

int main(int argc, char** argv) {
    pnn::MpiSession session(&argc, &argv);
    int repeats = 50;
    std::string only;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
        else if (a == "--precision") only = argv[i + 1];
    }
    pnn::Cpu::set_threads(1);
    if (only.empty() || only == "double") run<double>("float64", repeats);
    if (only.empty() || only == "float") run<float>("float32", repeats);
}
