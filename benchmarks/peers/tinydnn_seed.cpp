// tinydnn_seed: the seed's workload in tiny-dnn (Debian's header-only C++ library, the one a C++
// user might pick today): a 400-25-10 net of sigmoid fully connected layers with the
// cross-entropy cost of sigmoid outputs (the seed's), one full-batch gradient-descent update per
// "epoch" of 5000 samples, on one thread (CNN_SINGLE_THREAD). tiny-dnn computes in float.
// Its fit does not compute the cost, so its iteration does a little less than the others'.
// Prints "tinydnn float32 median_ms min_ms max_ms".
//
//   tinydnn_seed [--repeats N] [--samples M] [--hidden H]
#define CNN_SINGLE_THREAD
#include <tiny_dnn/tiny_dnn.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../report.hpp"

int main(int argc, char** argv) {
    int repeats = 10;
    std::size_t m = 5000, h = 25;
    const std::size_t n = 400, k = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
        else if (a == "--samples") m = std::stoul(argv[i + 1]);
        else if (a == "--hidden") h = std::stoul(argv[i + 1]);
        else {
            std::fprintf(stderr, "tinydnn_seed: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    using namespace tiny_dnn;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> u(0, 1);
    std::vector<vec_t> x(m, vec_t(n)), t(m, vec_t(k, 0));
    for (std::size_t i = 0; i < m; ++i) {
        for (auto& v : x[i]) v = u(rng);
        t[i][i % k] = 1;
    }
    network<sequential> net;
    net << fully_connected_layer<activation::sigmoid>(serial_size_t(n), serial_size_t(h))
        << fully_connected_layer<activation::sigmoid>(serial_size_t(h), serial_size_t(k));
    gradient_descent opt;
    opt.alpha = float_t(0.1);
    std::vector<double> ms;
    auto last = bench::clock_type::now();
    int epoch = 0;
    // One epoch of batch m is one full-batch iteration; timed between epoch callbacks, after 3.
    net.fit<cross_entropy>(opt, x, t, m, repeats + 3, [] {},
                           [&] {
                               const auto now = bench::clock_type::now();
                               if (++epoch > 3) ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
                               last = now;
                           },
                           false, 1);
    bench::report("tinydnn", "float32", bench::stats(ms));
}
