// seed_cuda: pnn::Cuda on the GPU, in the report format of seed_iteration
// ("name precision median_ms min_ms max_ms"):
//   pnn_cuda        one full-batch iteration of the seed's workload (5000 x 400, 400-25-10)
//   pnn_cuda_step   one mini-batch step of Fashion-MNIST's shape (60000 x 784, 784-1024-1024-10,
//                   batch 4096), the data resident on the GPU
//   cublas_products the eight cuBLAS products of that step timed alone on the same shapes: the
//                   limit for a step (forward: 3, weight gradients: 3, deltas: 2)
// then the stage breakdown of the seed's iteration on the GPU (the seed's figures 4 to 6), as
// "stage pnn_cuda float32 STAGE ms_per_iteration", and the seed's figures 7 and 8: one float32 product
// (m x k)(k x n) from 100x10 10x1 to 5000x500 500x50, as
//   product_cpu_MxKxN          OpenBLAS (cblas_sgemm), data in host memory
//   product_gpu_copies_MxKxN   cuBLAS, copying A and B to the GPU and C back (as the seed did)
//   product_gpu_resident_MxKxN cuBLAS, the data already on the GPU
//
//   seed_cuda [--repeats N] [--data-dir FASHION_MNIST_DIR] [--part all|seed|step|products]
// (--part seed prints the seed's iteration alone, for runs interleaved with a peer's.)
#include <cblas.h>

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

// ms of f() over `repeats` runs after 3 warm-ups, the device synchronised before each clock read.
template <class F>
Stats time_each(int repeats, const pnn::Cuda& gpu, F&& f) {
    std::vector<double> ms;
    for (int r = 0; r < repeats + 3; ++r) {
        gpu.synchronize();
        const auto start = clock_type::now();
        f();
        gpu.synchronize();
        if (r >= 3) ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
    }
    return stats(ms);
}

// The seed's figures 7 and 8: where the GPU starts to win a single product, with and without
// the copies that made the seed's GPU run slower than its CPU.
void products_cpu_vs_gpu(int repeats) {
    using T = float;
    pnn::Cuda gpu;
    for (std::size_t f : {1, 2, 3, 5, 10, 20, 30, 50}) {
        const std::size_t m = 100 * f, k = 10 * f, n = f;
        std::vector<T> a(m * k), b(k * n), c(m * n);
        for (std::size_t i = 0; i < a.size(); ++i) a[i] = T(i % 7) * T(0.1);
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = T(i % 5) * T(0.2);
        auto da = gpu.make_buffer<T>(a.size()), db = gpu.make_buffer<T>(b.size()), dc = gpu.make_buffer<T>(c.size());
        const pnn::MatrixRef<const T> ra{gpu.data(da), m, k}, rb{gpu.data(db), k, n};
        const pnn::MatrixRef<T> rc{gpu.data(dc), m, n};
        const std::string shape = std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n);
        report(("product_cpu_" + shape).c_str(), "float32", time_each(repeats, gpu, [&] {
                   cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), 1.0f, a.data(), int(k),
                               b.data(), int(n), 0.0f, c.data(), int(n));
               }));
        report(("product_gpu_copies_" + shape).c_str(), "float32", time_each(repeats, gpu, [&] {
                   gpu.copy_in(gpu.data(da), a.data(), a.size());
                   gpu.copy_in(gpu.data(db), b.data(), b.size());
                   gpu.gemm(false, false, T(1), ra, rb, T(0), rc);
                   gpu.copy_out(c.data(), gpu.data(dc), c.size());
               }));
        report(("product_gpu_resident_" + shape).c_str(), "float32",
               time_each(repeats, gpu, [&] { gpu.gemm(false, false, T(1), ra, rb, T(0), rc); }));
    }
}

}  // namespace

int main(int argc, char** argv) {
    int repeats = 50;
    std::string dir, part = "all";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
        else if (a == "--data-dir") dir = argv[i + 1];
        else if (a == "--part") part = argv[i + 1];
        else {
            std::fprintf(stderr, "seed_cuda: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (pnn::Cuda::device_count() == 0) {
        std::printf("skipped: no CUDA device\n");
        return 77;
    }
    if (part != "all" && part != "seed" && part != "step" && part != "products") {
        std::fprintf(stderr, "seed_cuda: --part: expected all, seed, step or products, found %s\n", part.c_str());
        return 2;
    }
    if (part == "all" || part == "seed") {
        const auto d = synthetic<float>(5000, 400, 10);
        pnn::Trainer<pnn::Mlp<float>, pnn::Cuda> t(pnn::Mlp<float>({400, 25, 10}, 1), pnn::Local{}, pnn::Cuda{});
        report("pnn_cuda", "float32", time_fit(t, d, repeats));
    }
    if (part == "all") {
        const auto d = synthetic<float>(5000, 400, 10);
        pnn::Trainer<pnn::Mlp<float>, pnn::Cuda> t(pnn::Mlp<float>({400, 25, 10}, 1), pnn::Local{}, pnn::Cuda{});
        record_and_report_stages(t, d, repeats, "pnn_cuda", "float32");
    }
    if (part == "all" || part == "step") {
        const std::vector<std::size_t> sizes{784, 1024, 1024, 10};
        const auto d = workload<float>(dir, 60000, 784);
        pnn::Trainer<pnn::Mlp<float>, pnn::Cuda> t(pnn::Mlp<float>(sizes, 1), pnn::Local{}, pnn::Cuda{});
        report("pnn_cuda_step", "float32", time_fit(t, d, repeats, 4096));
        report("cublas_products", "float32", time_products(sizes, 4096, repeats));
    }
    if (part == "all" || part == "products") products_cpu_vs_gpu(repeats);
}
