// seed_iteration: one full-batch iteration of the seed's workload (5000 samples x 400 inputs,
// net 400-25-10), float64 and float32, on one thread; and, as the limit to compare against, the
// five BLAS products an iteration needs, timed alone on the same shapes.
//
//   seed_iteration [--repeats N] [--samples M] [--hidden H] [--inputs N] [--precision float|double]
//                  [--block-kib K] [--data-dir FASHION_MNIST_DIR] [--products 0|1] [--recording 0|1]
//                  [--stages 0|1]
//
// --products 0 leaves out the BLAS products; --recording 1 also times fit with stage timing on
// ("pnn_recording"); --stages 1 prints the stage breakdown of a recorded fit
// ("stage pnn_local PRECISION STAGE ms").
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

template <class T>
void run(const char* precision, const std::string& dir, std::size_t m, std::size_t n, std::size_t h, int repeats,
         pnn::Cpu cpu, bool products, bool recording, bool stages) {
    const auto d = workload<T>(dir, m, n);
    report("pnn", precision, time_pnn(d, h, repeats, cpu));
    if (stages) {
        pnn::Trainer<pnn::Mlp<T>> t(pnn::Mlp<T>({d.features(), h, 10}, 1), pnn::Local{}, cpu);
        record_and_report_stages(t, d, repeats, "pnn_local", precision);
    }
    if (recording) report("pnn_recording", precision, time_pnn(d, h, repeats, cpu, true));
    if (products) report("blas_products", precision, time_products(d, h, repeats));
}

}  // namespace

int main(int argc, char** argv) {
    int repeats = 50;
    std::size_t m = 5000, n = 400, h = 25;
    std::string only, dir;
    bool products = true, recording = false, stages = false;
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
        else if (a == "--block-kib") cpu.block_bytes = std::stoul(argv[i + 1]) * 1024;
        else {
            std::fprintf(stderr, "seed_iteration: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    pnn::Cpu::set_threads(1);
    if (only.empty() || only == "double") run<double>("float64", dir, m, n, h, repeats, cpu, products, recording, stages);
    if (only.empty() || only == "float") run<float>("float32", dir, m, n, h, repeats, cpu, products, recording, stages);
}
