// seed_iteration: one full-batch iteration of the seed's workload (5000 samples x 400 inputs,
// net 400-25-10), float64 and float32, on one thread; and, as the limit to compare against, the
// five BLAS products an iteration needs, timed alone on the same shapes.
//
//   seed_iteration [--repeats N] [--samples M] [--hidden H] [--inputs N] [--precision float|double]
//                  [--block-kib K] [--data-dir FASHION_MNIST_DIR] [--products 0|1] [--recording 0|1]
//                  [--stages 0|1] [--limit 0|1]
//
// --products 0 leaves out the BLAS products; --recording 1 also times fit with stage timing on
// ("pnn_recording"); --stages 1 prints the stage breakdown of a recorded fit
// ("stage pnn_local PRECISION STAGE ms"); --limit 1 measures BLAS's rate on a square 2000 x 2000
// product and prints the time one iteration's multiply-adds would take at it ("limit_square",
// the FLOP count and the rate: "square_gemm_gflops PRECISION median min max").
//
// With --data-dir the samples are Fashion-MNIST's first M training images (784 inputs) rather
// than synthetic ones.
//
// Prints one line per measurement: "name precision median_ms min_ms max_ms". The driver
// benchmarks/seed_vs_peers.py runs it interleaved with the peers and computes ratios.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <pnn/pnn.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench.hpp"

namespace {

using namespace bench;

// ms per iteration of Trainer::fit, full batch.
// With record, stage timing is on.
template <class T>
Stats time_pnn(const pnn::Dataset<T>& d, std::size_t hidden, int repeats, pnn::Cpu cpu, bool record = false) {
    pnn::Trainer<pnn::Mlp<T>> t(pnn::Mlp<T>({d.features(), hidden, 10}, 1), pnn::Local{}, cpu);
    t.record_stages(record);
    return time_fit(t, d, repeats);
}

// The five products of one iteration on whole matrices (m x n input, h hidden, k outputs):
//   Z1 = X W1^T, Z2 = A1 W2^T, G2 = D2^T A1, D1 = D2 W2, G1 = D1^T X
template <class T>
Stats time_products(const pnn::Dataset<T>& d, std::size_t h, int repeats) {
    const std::size_t m = d.size(), n = d.features(), k = 10;
    pnn::Cpu cpu;
    cpu.narrow = 0;  // every product through BLAS
    std::vector<T> w1(h * n, T(0.01)), w2(k * h, T(0.01)), a1(m * h, T(0.5)), z2(m * k), d2(m * k, T(0.1)),
        g2(k * h), d1(m * h), g1(h * n);
    using R = pnn::MatrixRef<T>;
    using C = pnn::MatrixRef<const T>;
    std::vector<double> ms;
    for (int r = 0; r < repeats + 3; ++r) {
        const auto start = clock_type::now();
        cpu.gemm(false, true, T(1), d.x_ref(), C{w1.data(), h, n}, T(0), R{a1.data(), m, h});
        cpu.gemm(false, true, T(1), C{a1.data(), m, h}, C{w2.data(), k, h}, T(0), R{z2.data(), m, k});
        cpu.gemm(true, false, T(1), C{d2.data(), m, k}, C{a1.data(), m, h}, T(0), R{g2.data(), k, h});
        cpu.gemm(false, false, T(1), C{d2.data(), m, k}, C{w2.data(), k, h}, T(0), R{d1.data(), m, h});
        cpu.gemm(true, false, T(1), C{d1.data(), m, h}, d.x_ref(), T(0), R{g1.data(), h, n});
        if (r >= 3) ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
    }
    return stats(ms);
}

// The multiply-adds of one full-batch iteration, counted as 2 FLOP each: the five products and
// the bias terms (a 1 x m times m x k product each for the two layers' bias gradients and the
// forward bias adds).
inline double iteration_flops(std::size_t m, std::size_t n, std::size_t h, std::size_t k = 10) {
    const double products = double(m) * (double(n) * h + double(h) * k + double(k) * h + double(k) * h + double(h) * n);
    const double bias = 2.0 * double(m) * (double(h) + double(k));
    return 2 * products + bias;
}

// GFLOP/s of one square product C = A B at BLAS's best (n x n, every product through BLAS).
template <class T>
Stats square_gemm_gflops(std::size_t n, int repeats) {
    pnn::Cpu cpu;
    cpu.narrow = 0;
    std::vector<T> a(n * n, T(0.5)), b(n * n, T(0.25)), c(n * n);
    using C = pnn::MatrixRef<const T>;
    std::vector<double> rates;
    for (int r = 0; r < repeats + 1; ++r) {
        const auto start = clock_type::now();
        cpu.gemm(false, false, T(1), C{a.data(), n, n}, C{b.data(), n, n}, T(0), pnn::MatrixRef<T>{c.data(), n, n});
        const double s = std::chrono::duration<double>(clock_type::now() - start).count();
        if (r >= 1) rates.push_back(2.0 * double(n) * double(n) * double(n) / s * 1e-9);
    }
    return stats(rates);
}

template <class T>
void run(const char* precision, const std::string& dir, std::size_t m, std::size_t n, std::size_t h, int repeats,
         pnn::Cpu cpu, bool products, bool recording, bool stages, bool limit) {
    const auto d = workload<T>(dir, m, n);
    report("pnn", precision, time_pnn(d, h, repeats, cpu));
    if (stages) {
        pnn::Trainer<pnn::Mlp<T>> t(pnn::Mlp<T>({d.features(), h, 10}, 1), pnn::Local{}, cpu);
        record_and_report_stages(t, d, repeats, "pnn_local", precision);
    }
    if (recording) report("pnn_recording", precision, time_pnn(d, h, repeats, cpu, true));
    if (products) report("blas_products", precision, time_products(d, h, repeats));
    if (limit) {
        // the limit at the best rate: time = FLOP / (GFLOP/s), so its median comes from the rates'
        const Stats rate = square_gemm_gflops<T>(2000, 5);
        report("square_gemm_gflops", precision, rate);
        const double gflop = iteration_flops(d.size(), d.features(), h) * 1e-9;
        report("limit_square", precision, Stats{1e3 * gflop / rate.median, 1e3 * gflop / rate.max, 1e3 * gflop / rate.min});
    }
}

}  // namespace

int main(int argc, char** argv) {
    int repeats = 50;
    std::size_t m = 5000, n = 400, h = 25;
    std::string only, dir;
    bool products = true, recording = false, stages = false, limit = false;
    pnn::Cpu cpu;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
        else if (a == "--samples") m = std::stoul(argv[i + 1]);
        else if (a == "--inputs") n = std::stoul(argv[i + 1]);
        else if (a == "--hidden") h = std::stoul(argv[i + 1]);
        else if (a == "--precision") only = argv[i + 1];
        else if (a == "--data-dir") dir = argv[i + 1];
        else if (a == "--products") products = std::string(argv[i + 1]) != "0";
        else if (a == "--recording") recording = std::string(argv[i + 1]) != "0";
        else if (a == "--stages") stages = std::string(argv[i + 1]) != "0";
        else if (a == "--limit") limit = std::string(argv[i + 1]) != "0";
        else if (a == "--block-kib") cpu.block_bytes = std::stoul(argv[i + 1]) * 1024;
        else {
            std::fprintf(stderr, "seed_iteration: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    pnn::Cpu::set_threads(1);
    std::printf("# CPU kernels %s\n", std::string(pnn::cpu_kernels()).c_str());
    if (only.empty() || only == "double") run<double>("float64", dir, m, n, h, repeats, cpu, products, recording, stages, limit);
    if (only.empty() || only == "float") run<float>("float32", dir, m, n, h, repeats, cpu, products, recording, stages, limit);
}
