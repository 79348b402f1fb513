// mnist_nn_data_parallelism: the seed's data-parallel program. Every rank reads only its own
// rows of the IDX files, computes the cost and gradient over them, and the gradients are summed
// over ranks each step (MPI_Allreduce, or the seed's reduce to rank 0 + MPI_Bcast).
//
//   mpirun -np 2 mnist_nn_data_parallelism --print-every 100
//   mpirun -np 4 --hostfile hosts mnist_nn_data_parallelism --train-samples 0 --reduction gather-bcast
//
// The model is the one mnist_nn trains with the same flags (within rounding).
#include "example.hpp"

namespace {

template <class T>
int run(const example::Options& o, pnn::Reduction reduction, double watchdog_seconds) {
    pnn::MpiOptions options;
    options.reduction = reduction;
    options.placement = pnn::Placement::sharded;
    options.watchdog = std::chrono::milliseconds(std::int64_t(watchdog_seconds * 1e3));
    pnn::Mpi comm(MPI_COMM_WORLD, options);
    return example::train<T>(o, comm, [&](const std::string& split, std::size_t n) {
        // this rank's share of the first n samples (all of the file when n = 0)
        const std::string images = example::images_of(o, split), labels = example::labels_of(o, split);
        if (n == 0) n = pnn::idx_samples(labels);
        pnn::IdxOptions idx;
        idx.rows = {comm.first_row(n, comm.rank()), comm.first_row(n, comm.rank() + 1)};
        return pnn::load_idx<T>(images, labels, idx);
    });
}

}  // namespace

int main(int argc, char** argv) {
    pnn::MpiSession session(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    example::Options o;
    std::string reduction = "allreduce";
    double watchdog = 300;
    CLI::App app{"Train the seed's sigmoid network on Fashion-MNIST across MPI ranks (run under mpirun or srun)."};
    example::add_options(app, o);
    app.add_option("--reduction", reduction, "allreduce, or gather-bcast (the seed's reduce + broadcast)")
        ->capture_default_str()
        ->check(CLI::IsMember({"allreduce", "gather-bcast"}));
    app.add_option("--watchdog", watchdog,
                   "seconds one collective call may wait for a silent peer before the job is ended (0 = forever)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    if (const int status = example::parse(app, argc, argv, "mnist_nn_data_parallelism", rank == 0); status >= 0)
        return status;
    try {
        pnn::Cpu::set_threads(o.threads);
        const auto r = reduction == "allreduce" ? pnn::Reduction::allreduce : pnn::Reduction::gather_bcast;
        return o.precision == "float" ? run<float>(o, r, watchdog) : run<double>(o, r, watchdog);
    } catch (const pnn::error& e) {
        // Printed once: where every rank failed together, one of them reports it.
        if (!e.reported_elsewhere()) std::fprintf(stderr, "mnist_nn_data_parallelism (rank %d): %s\n", rank, e.what());
        std::fflush(stderr);
        // Other ranks may be inside a collective call waiting for this one: end the whole job.
        MPI_Abort(MPI_COMM_WORLD, 1);
        return 1;
    }
}
