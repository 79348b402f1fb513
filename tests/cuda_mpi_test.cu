// pnn::Cuda with pnn::Mpi, run through mpirun (2 ranks; they may share one GPU): the model equals
// Cuda with Local (1e-5 relative in float, 1e-12 in double), with either reduction, full batch
// and mini-batch. The gradient travels through pinned host memory (Trainer::on_host).
// Where there is no CUDA device it prints "skipped: no CUDA device" and exits 77.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <pnn/comm/mpi.hpp>

#include "support.hpp"

namespace {

int local_device() {
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    return (local ? std::atoi(local) : 0) % pnn::Cuda::device_count();
}

template <class T>
void same_model() {
    const auto data = test::blobs<T>(1001, 12, 4, 7);
    const pnn::Mlp<T> initial({12, 10, 6, 4}, 3);
    for (std::size_t batch : {std::size_t(0), std::size_t(128)}) {
        const pnn::Sgd opt = test::sgd_settings(batch, 20, 9);
        pnn::Trainer<pnn::Mlp<T>, pnn::Cuda, pnn::Local> local(initial, pnn::Local{}, pnn::Cuda(local_device()));
        const auto local_history = local.fit(data, opt);
        for (auto reduction : {pnn::Reduction::allreduce, pnn::Reduction::gather_bcast}) {
            CAPTURE(batch);
            CAPTURE(int(reduction));
            pnn::Trainer<pnn::Mlp<T>, pnn::Cuda, pnn::Mpi> mpi(initial, pnn::Mpi(MPI_COMM_WORLD, pnn::MpiOptions{reduction}),
                                                               pnn::Cuda(local_device()));
            const auto history = mpi.fit(data, opt);
            CHECK(test::relative_difference(mpi.net(), local.net()) <= test::tolerance<T>);
            REQUIRE(history.size() == local_history.size());
            for (std::size_t i = 0; i < history.size(); ++i)
                CHECK(history[i] == doctest::Approx(local_history[i]).epsilon(test::tolerance<T>));
            CHECK(mpi.accuracy(data) == local.accuracy(data));
        }
    }
}

}  // namespace

TEST_CASE("Cuda + Mpi trains the same model as Cuda + Local") {
    SUBCASE("float") { same_model<float>(); }
    SUBCASE("double") { same_model<double>(); }
}

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
