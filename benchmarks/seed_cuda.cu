// seed_cuda: pnn::Cuda on the GPU, in the report format of seed_iteration
// ("name precision median_ms min_ms max_ms"):
//   pnn_cuda        one full-batch iteration of the seed's workload (5000 x 400, 400-25-10)
//   pnn_cuda_step   one mini-batch step of Fashion-MNIST's shape (60000 x 784, 784-1024-1024-10,
//                   batch 4096), the data resident on the GPU
//   cublas_products the eight cuBLAS products of that step timed alone on the same shapes: the
//                   limit for a step (forward: 3, weight gradients: 3, deltas: 2)
//
//   seed_cuda [--repeats N] [--data-dir FASHION_MNIST_DIR]
#include <cstdio>
#include <string>

#include "bench.hpp"

namespace {

using namespace bench;

// The products of one step of a net with layer sizes s over B rows, each timed with the device
// synchronised around the whole set.
Stats time_products(const std::vector<std::size_t>& s, std::size_t rows, int repeats) {
    using T = float;
    pnn::Cuda gpu;
    std::size_t widest = 0;
    for (std::size_t v : s) widest = std::max(widest, v);
    auto x = gpu.make_buffer<T>(rows * widest), y = gpu.make_buffer<T>(rows * widest), w = gpu.make_buffer<T>(widest * widest),
         g = gpu.make_buffer<T>(widest * widest);
    gpu.fill(gpu.data(x), rows * widest, T(0.5));
    gpu.fill(gpu.data(w), widest * widest, T(0.01));
    using C = pnn::MatrixRef<const T>;
    using R = pnn::MatrixRef<T>;
    std::vector<double> ms;
    for (int r = 0; r < repeats + 3; ++r) {
        gpu.synchronize();
        const auto start = clock_type::now();
        for (std::size_t l = 0; l + 1 < s.size(); ++l) {  // forward: Z = A W^T
            gpu.gemm(false, true, T(1), C{gpu.data(x), rows, s[l]}, C{gpu.data(w), s[l + 1], s[l]}, T(1),
                     R{gpu.data(y), rows, s[l + 1]});
        }
        for (std::size_t l = s.size() - 1; l-- > 0;) {  // backward: G = D^T A, and D_prev = D W
            gpu.gemm(true, false, T(1), C{gpu.data(y), rows, s[l + 1]}, C{gpu.data(x), rows, s[l]}, T(1),
                     R{gpu.data(g), s[l + 1], s[l]});
            if (l > 0)
                gpu.gemm(false, false, T(1), C{gpu.data(y), rows, s[l + 1]}, C{gpu.data(w), s[l + 1], s[l]}, T(0),
                         R{gpu.data(x), rows, s[l]});
        }
        gpu.synchronize();
        if (r >= 3) ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
    }
    return stats(ms);
}

}  // namespace

int main(int argc, char** argv) {
    int repeats = 50;
    std::string dir;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
        else if (a == "--data-dir") dir = argv[i + 1];
        else {
            std::fprintf(stderr, "seed_cuda: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (pnn::Cuda::device_count() == 0) {
        std::printf("skipped: no CUDA device\n");
        return 77;
    }
    {
        const auto d = synthetic<float>(5000, 400, 10);
        pnn::Trainer<pnn::Mlp<float>, pnn::Cuda> t(pnn::Mlp<float>({400, 25, 10}, 1), pnn::Local{}, pnn::Cuda{});
        report("pnn_cuda", "float32", time_fit(t, d, repeats));
    }
    {
        const std::vector<std::size_t> sizes{784, 1024, 1024, 10};
        const auto d = workload<float>(dir, 60000, 784);
        pnn::Trainer<pnn::Mlp<float>, pnn::Cuda> t(pnn::Mlp<float>(sizes, 1), pnn::Local{}, pnn::Cuda{});
        report("pnn_cuda_step", "float32", time_fit(t, d, repeats, 4096));
        report("cublas_products", "float32", time_products(sizes, 4096, repeats));
    }
}
