// mnist_nn_data_parallelism: the seed's data-parallel program. Every rank reads only its own
// rows of the IDX files, computes the cost and gradient over them, and the gradients are summed
// over ranks each step (MPI_Allreduce, or the seed's reduce to rank 0 + MPI_Bcast).
//
//   mpirun -np 2 mnist_nn_data_parallelism --print-every 100
//   mpirun -np 4 --hostfile hosts mnist_nn_data_parallelism --train-samples 0 --reduction gather-bcast
//
// The model is the one mnist_nn trains with the same flags (within rounding).
#include "example.hpp"
#if defined(PNN_WITH_NCCL)  // set by the build where it links NCCL (CMake: the pnn_nccl target)
#include <pnn/comm/nccl.hpp>
#endif

namespace {

// Reads this rank's share of the first n samples of a split (all of the file when n = 0).
template <class T>
auto shard_loader(const example::Options& o, const pnn::Mpi& comm) {
    return [&o, &comm](const std::string& split, std::size_t n) {
        const std::string images = example::images_of(o, split), labels = example::labels_of(o, split);
        if (n == 0) n = pnn::idx_samples(labels);
        pnn::IdxOptions idx;
        idx.rows = {comm.first_row(n, comm.rank()), comm.first_row(n, comm.rank() + 1)};
        return pnn::load_idx<T>(images, labels, idx);
    };
}

template <class T>
int run(const example::Options& o, pnn::MpiOptions options, bool nccl) {
    options.reproducible_block = o.reproducible_block;
    options.placement = pnn::Placement::sharded;
#if defined(PNN_WITH_NCCL)
    if (nccl) {  // the gradient summed GPU to GPU
        const pnn::Cuda gpu = example::local_gpu();
        pnn::Nccl comm(gpu, MPI_COMM_WORLD, options);
        return example::train_on<T>(o, comm, shard_loader<T>(o, comm), gpu);
    }
#endif
    (void)nccl;
    pnn::Mpi comm(MPI_COMM_WORLD, options);
    return example::train<T>(o, comm, shard_loader<T>(o, comm));
}

}  // namespace

int main(int argc, char** argv) {
    pnn::MpiSession session(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    example::Options o;
    std::string reduction = "allreduce";
    double watchdog = 300;
    CLI::App app{"Train a network (the seed's sigmoid net by default) on Fashion-MNIST across MPI ranks (run under mpirun or srun)."};
    example::add_options(app, o);
    app.add_option("--reduction", reduction, "allreduce, or gather-bcast (the seed's reduce + broadcast)")
        ->capture_default_str()
        ->check(CLI::IsMember({"allreduce", "gather-bcast"}));
    bool nccl = false;
#if defined(PNN_WITH_NCCL)
    app.add_flag("--nccl", nccl, "sum gradients GPU to GPU with NCCL (with --device cuda; one GPU per rank)");
#endif
    app.add_option("--watchdog", watchdog,
                   "seconds one collective call may wait for a silent peer before the job is ended (0 = forever)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    pnn::MpiOptions options;
    std::string overlap = "on";
    app.add_option("--overlap", overlap,
                   "on: sum the gradient in buckets while backprop computes (allreduce) if the first steps, which "
                   "try both, find it faster; always: every step; off: in one sum after backprop")
        ->capture_default_str()
        ->check(CLI::IsMember({"on", "always", "off"}));
    app.add_option("--bucket-bytes", options.bucket_bytes, "bytes of gradient per bucket of the overlapped sum (0 = 128 KiB)")
        ->capture_default_str()
        ->check(example::count);
    std::string sharded_update = "on";
    app.add_option("--sharded-update", sharded_update,
                   "on: where every rank runs on this node, each rank updates its part of the weights and optimizer "
                   "state, then the parts are shared (the same weights); off: every rank updates all")
        ->capture_default_str()
        ->check(CLI::IsMember({"on", "off"}));
    std::string even_shares = "on";
    app.add_option("--even-shares", even_shares,
                   "on: with mini-batches, ranks holding more than an even share of a batch's rows send the surplus "
                   "to ranks holding fewer (the same model); off: each rank computes the batch's rows it holds")
        ->capture_default_str()
        ->check(CLI::IsMember({"on", "off"}));
    if (const int status = example::parse(app, o, argc, argv, "mnist_nn_data_parallelism", rank == 0); status >= 0)
        return status;
    try {
        pnn::Cpu::set_threads(o.threads);
        options.reduction = reduction == "allreduce" ? pnn::Reduction::allreduce : pnn::Reduction::gather_bcast;
        options.watchdog = std::chrono::milliseconds(std::int64_t(watchdog * 1e3));
        options.overlap = overlap != "off";
        options.overlap_trial = overlap == "on";
        options.sharded_update = sharded_update == "on";
        options.even_batch_shares = even_shares == "on";
        if (nccl && o.device != "cuda") {
            if (rank == 0) std::fprintf(stderr, "mnist_nn_data_parallelism: --nccl: expected --device cuda, found --device %s\n",
                                        o.device.c_str());
            return 2;
        }
        return o.precision == "float" ? run<float>(o, options, nccl) : run<double>(o, options, nccl);
    } catch (const pnn::error& e) {
        // Printed once: where every rank failed together, one of them reports it.
        if (!e.reported_elsewhere()) std::fprintf(stderr, "mnist_nn_data_parallelism (rank %d): %s\n", rank, e.what());
        std::fflush(stderr);
        // Other ranks may be inside a collective call waiting for this one: end the whole job.
        MPI_Abort(MPI_COMM_WORLD, 1);
        return 1;
    }
}
