// pnn::Cuda with pnn::Mpi, run through mpirun (1 or 2 ranks; they may share one GPU): the model
// equals Cuda with Local (1e-5 relative in float, 1e-12 in double), with either reduction, full
// batch and mini-batch. The gradient travels through pinned host memory (Trainer::on_host), or
// straight from GPU memory where the MPI is CUDA-aware. The same for pnn::Nccl (GPU to GPU)
// where NCCL was found: with one GPU per rank it must train the same model; with ranks sharing
// a GPU, NCCL's refusal must be a pnn::error naming the call; with the gradient's sums
// overlapped on NCCL's own stream (buckets of 8 B to a layer) too.
// Where there is no CUDA device it prints "skipped: no CUDA device" and exits 77.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <pnn/comm/mpi.hpp>
#if defined(PNN_WITH_NCCL)  // set by the build where it links NCCL
#include <pnn/comm/nccl.hpp>
#endif

#include "support.hpp"

namespace {

int local_device() {
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    return (local ? std::atoi(local) : 0) % pnn::Cuda::device_count();
}

int world_size() {
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

// make(reduction, gpu) makes the communicator under test.
template <class T, class MakeComm>
void same_model(MakeComm make) {
    const auto data = test::blobs<T>(1001, 12, 4, 7);
    const pnn::Mlp<T> initial({12, 10, 6, 4}, 3);
    using Comm = decltype(make(pnn::Reduction::allreduce, pnn::Cuda{}));
    for (std::size_t batch : {std::size_t(0), std::size_t(128)}) {
        const pnn::Sgd opt = test::sgd_settings(batch, 20, 9);
        pnn::Trainer<pnn::Mlp<T>, pnn::Cuda, pnn::Local> local(initial, pnn::Local{}, pnn::Cuda(local_device()));
        const auto local_history = local.fit(data, opt);
        for (auto reduction : {pnn::Reduction::allreduce, pnn::Reduction::gather_bcast}) {
            CAPTURE(batch);
            CAPTURE(int(reduction));
            const pnn::Cuda gpu(local_device());
            pnn::Trainer<pnn::Mlp<T>, pnn::Cuda, Comm> mpi(initial, make(reduction, gpu), gpu);
            const auto history = mpi.fit(data, opt);
            CHECK(test::relative_difference(mpi.net(), local.net()) <= test::tolerance<T>);
            REQUIRE(history.size() == local_history.size());
            for (std::size_t i = 0; i < history.size(); ++i)
                CHECK(history[i] == doctest::Approx(local_history[i]).epsilon(test::tolerance<T>));
            CHECK(mpi.accuracy(data) == local.accuracy(data));
        }
    }
}

pnn::Mpi make_mpi(pnn::Reduction reduction, const pnn::Cuda&) { return pnn::Mpi(MPI_COMM_WORLD, pnn::MpiOptions{reduction}); }

}  // namespace

TEST_CASE("Cuda + Mpi trains the same model as Cuda + Local") {
    SUBCASE("float") { same_model<float>(make_mpi); }
    SUBCASE("double") { same_model<double>(make_mpi); }
}

#if defined(PNN_WITH_NCCL)
TEST_CASE("Cuda + Nccl trains the same model as Cuda + Local (one GPU per rank)") {
    auto make_nccl = [](pnn::Reduction reduction, const pnn::Cuda& gpu) {
        return pnn::Nccl(gpu, MPI_COMM_WORLD, pnn::MpiOptions{reduction});
    };
    if (pnn::Cuda::device_count() < world_size()) {
        // NCCL refuses ranks that share a GPU: every rank gets a pnn::error naming the call.
        const std::string msg = test::error_of([&] { make_nccl(pnn::Reduction::allreduce, pnn::Cuda(local_device())); });
        CHECK(msg.find("ncclCommInitRank") != std::string::npos);
        MESSAGE("Nccl's training not tested: ", world_size(), " ranks share ", pnn::Cuda::device_count(),
                " GPU(s); NCCL said: ", msg);
        return;
    }
    SUBCASE("float") { same_model<float>(make_nccl); }
    SUBCASE("double") { same_model<double>(make_nccl); }
}

// The overlapped order on the GPU: buckets of one element, of a few units, of about a layer
// (this net's gradient is 224 values) summed by NCCL on its own stream while backprop computes,
// and overlap off; every one the model of Cuda + Local.
TEST_CASE("Cuda + Nccl with the gradient's sums overlapped trains the same model as Cuda + Local") {
    if (pnn::Cuda::device_count() < world_size()) {
        MESSAGE("not tested: ", world_size(), " ranks share ", pnn::Cuda::device_count(), " GPU(s), which NCCL refuses");
        return;
    }
    for (std::size_t bucket_bytes : {std::size_t(8), std::size_t(96), std::size_t(512), std::size_t(0)})
        for (bool overlap : {true, false}) {
            CAPTURE(bucket_bytes);
            CAPTURE(overlap);
            auto make_nccl = [&](pnn::Reduction reduction, const pnn::Cuda& gpu) {
                pnn::MpiOptions options{reduction};
                options.overlap = overlap;
                options.bucket_bytes = bucket_bytes;
                return pnn::Nccl(gpu, MPI_COMM_WORLD, options);
            };
            same_model<float>(make_nccl);
            same_model<double>(make_nccl);
        }
}
#endif

int main(int argc, char** argv) {
    pnn::MpiSession session(&argc, &argv);
    if (pnn::Cuda::device_count() == 0) {
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        if (rank == 0) std::printf("skipped: no CUDA device\n");
        return 77;
    }
    doctest::Context context(argc, argv);
    return context.run();
}
