// adam_update: Adam's fused update (Cpu::adam_step, with weight decay and L2, so the mask is read)
// on n parameters far larger than the caches, against the bandwidth limit of the same traffic:
// a plain pass that reads θ, the gradient, both moments and the mask and writes θ and both
// moments once, with no arithmetic to speak of. Interleaved, one thread.
//
//   adam_update [--parameters N] [--repeats R] [--precision float|double]
//
// Reports "adam <precision> median min max" and "limit <precision> ..." (ms per pass).
#include <cstdlib>
#include <cstring>
#include <pnn/pnn.hpp>
#include <string>
#include <vector>

#include "report.hpp"

namespace {

// θ, m, v, g, mask: 5 arrays read, 3 written, one pass. noinline, so that the compiler cannot
// drop passes whose results the next one overwrites.
template <class T>
__attribute__((noinline)) void limit_pass(T* theta, T* m, T* v, const T* g, const T* mask, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const T s = g[i] + mask[i];
        theta[i] += s;
        m[i] += s;
        v[i] += s;
    }
}

template <class T>
int run(std::size_t n, int repeats) {
    const pnn::Cpu cpu;
    // pnn's own buffers (cache-line aligned, as the Trainer's are)
    auto filled = [&](T value) {
        auto b = cpu.make_buffer<T>(n);
        std::fill(b.begin(), b.end(), value);
        return b;
    };
    auto theta = filled(T(0.5)), m = filled(T(0)), v = filled(T(0)), g = filled(T(0.01)), mask = filled(T(1));
    for (std::size_t i = 0; i < n; i += 17) mask[i] = 0;
    const pnn::fn::adam_update<T> f{{T(1.0 / 128), T(1e-4 / 128)}, T(1e-3 * 0.01), T(0.9), T(0.999), T(0.1), T(0.001),
                                    T(1e-3 / 0.1), T(0.0316), T(1e-8)};
    std::vector<double> adam, limit;
    for (int r = 0; r < repeats + 2; ++r) {
        auto start = bench::clock_type::now();
        cpu.adam_step(theta.data(), m.data(), v.data(), g.data(), mask.data(), n, f);
        auto mid = bench::clock_type::now();
        limit_pass(theta.data(), m.data(), v.data(), g.data(), mask.data(), n);
        auto end = bench::clock_type::now();
        if (r >= 2) {
            adam.push_back(std::chrono::duration<double, std::milli>(mid - start).count());
            limit.push_back(std::chrono::duration<double, std::milli>(end - mid).count());
        }
    }
    const char* precision = sizeof(T) == 4 ? "float" : "double";
    bench::report("adam", precision, bench::stats(adam));
    bench::report("limit", precision, bench::stats(limit));
    return theta[n / 2] == T(12345) ? 1 : 0;  // (keeps the results alive)
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = std::size_t(1) << 26;  // 64 Mi parameters: 256 MiB per float array
    int repeats = 10;
    std::string precision = "float";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--parameters") n = std::strtoull(argv[i + 1], nullptr, 10);
        else if (flag == "--repeats") repeats = std::atoi(argv[i + 1]);
        else if (flag == "--precision") precision = argv[i + 1];
        else {
            std::fprintf(stderr, "adam_update: unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    std::printf("# CPU kernels %s, %zu parameters\n", std::string(pnn::cpu_kernels()).c_str(), n);
    return precision == "double" ? run<double>(n, repeats) : run<float>(n, repeats);
}
