// defines: helpers the tests share: small synthetic datasets and a float64 reference cost.
#pragma once
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <random>
#include <utility>
#include <vector>

#include <pnn/pnn.hpp>

// PNN_TEST_ASAN: 1 in a build under AddressSanitizer (scripts/sanitize; g++ says so with
// __SANITIZE_ADDRESS__, clang with __has_feature), 0 elsewhere.
#if defined(__SANITIZE_ADDRESS__)
#define PNN_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PNN_TEST_ASAN 1
#endif
#endif
#ifndef PNN_TEST_ASAN
#define PNN_TEST_ASAN 0
#endif

namespace test {

// Under AddressSanitizer pnn's own loops run some 40x slower than in a Release build: a test that
// trains for long shortens itself there, and says so.
inline constexpr bool under_address_sanitizer = PNN_TEST_ASAN == 1;

// k Gaussian clusters in n dimensions, m samples: easy to learn, never trivial.
template <class T>
pnn::Dataset<T> blobs(std::size_t m, std::size_t n, int k, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, 0.35);
    std::vector<double> centres(std::size_t(k) * n);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (double& c : centres) c = u(rng);
    xt::xtensor<T, 2> x = xt::xtensor<T, 2>::from_shape({m, n});
    xt::xtensor<int, 1> y = xt::xtensor<int, 1>::from_shape({m});
    for (std::size_t i = 0; i < m; ++i) {
        y(i) = int(i % std::size_t(k));
        for (std::size_t j = 0; j < n; ++j) x(i, j) = T(centres[std::size_t(y(i)) * n + j] + noise(rng));
    }
    return pnn::Dataset<T>(std::move(x), std::move(y));
}

// f(z) of a hidden unit, in double, from the C library: the references' own.
inline double reference_unit(pnn::Activation a, double z) {
    switch (a) {
        case pnn::Activation::tanh: return std::tanh(z);
        case pnn::Activation::relu: return z > 0 ? z : 0.0;
        default: return 1.0 / (1.0 + std::exp(-z));
    }
}

// The cost computed independently of pnn's kernels, in double, with explicit loops: for the
// seed's sigmoid output J = -1/m Σ [y log h + (1-y) log(1-h)] (the seed's way), for softmax
// J = -1/m Σ log softmax(z)[y] (through log-sum-exp), plus λ/(2m) Σ θ² (no bias).
template <class T>
double reference_cost(const pnn::Mlp<T>& net, const pnn::Dataset<T>& d, double lambda) {
    const auto& sizes = net.sizes();
    double j = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
        std::vector<double> a(d.features());
        for (std::size_t f = 0; f < a.size(); ++f) a[f] = double(d.x()(i, f));
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
            const auto t = net.theta(l);
            std::vector<double> z(sizes[l + 1]);
            for (std::size_t r = 0; r < z.size(); ++r) {
                double s = double(t(r, 0));
                for (std::size_t c = 0; c < a.size(); ++c) s += double(t(r, c + 1)) * a[c];
                const bool last = l + 2 == sizes.size();
                z[r] = !last ? reference_unit(net.activations()[l], s)
                             : net.output() == pnn::Output::sigmoid ? 1.0 / (1.0 + std::exp(-s)) : s;
            }
            a = z;
        }
        if (net.output() == pnn::Output::softmax) {
            const double top = *std::max_element(a.begin(), a.end());
            double sum = 0;
            for (double z : a) sum += std::exp(z - top);
            j += std::log(sum) + top - a[std::size_t(d.y()(i))];
            continue;
        }
        for (std::size_t k = 0; k < a.size(); ++k) {
            const double y = d.y()(i) == int(k) ? 1.0 : 0.0;
            j -= y * std::log(a[k]) + (1 - y) * std::log(1 - a[k]);
        }
    }
    j /= double(d.size());
    double reg = 0;
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
        const auto t = net.theta(l);
        for (std::size_t r = 0; r < t.shape(0); ++r)
            for (std::size_t c = 1; c < t.shape(1); ++c) reg += double(t(r, c)) * double(t(r, c));
    }
    return j + lambda / (2.0 * double(d.size())) * reg;
}

// Every kind of unit pnn offers, as (hidden activation, output) pairs: each activation with each
// output, for the tests that check every one.
inline std::vector<std::pair<pnn::Activation, pnn::Output>> every_unit_kind() {
    std::vector<std::pair<pnn::Activation, pnn::Output>> kinds;
    for (auto a : {pnn::Activation::sigmoid, pnn::Activation::tanh, pnn::Activation::relu})
        for (auto o : {pnn::Output::sigmoid, pnn::Output::softmax}) kinds.emplace_back(a, o);
    return kinds;
}

// max |a - b| / max |b| over n values (the absolute difference where b is all zero): how far a
// result is from its reference, in the tests that compare devices and communicators.
template <class T>
double relative_difference(const T* a, const T* b, std::size_t n) {
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < n; ++i) {
        diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
        scale = std::max(scale, std::abs(double(b[i])));
    }
    return scale > 0 ? diff / scale : diff;
}
template <class T>
double relative_difference(const pnn::Mlp<T>& a, const pnn::Mlp<T>& b) {
    return relative_difference(a.parameters(), b.parameters(), b.parameter_count());
}

// The agreement expected between two computations of the same value that differ only in the
// order of their sums: float rounding, or double rounding.
template <class T>
constexpr double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-12;

// The training settings the equivalence tests share: learning rate 0.5, L2 0.05, full batch
// (batch 0) or mini-batches with momentum 0.9.
inline pnn::Sgd sgd_settings(std::size_t batch, std::size_t iterations, std::uint64_t seed) {
    pnn::Sgd opt;
    opt.learning_rate = 0.5;
    opt.iterations = iterations;
    opt.batch_size = batch;
    opt.momentum = batch ? 0.9 : 0.0;
    opt.lambda = 0.05;
    opt.seed = seed;
    return opt;
}

// AdamW settings the tests share: learning rate 0.01, the other hyperparameters PyTorch's
// defaults, with this batch (0 = full), update count, shuffle seed, L2 and weight decay.
inline pnn::Adam adam_settings(std::size_t batch, std::size_t iterations, std::uint64_t seed, double lambda,
                               double weight_decay) {
    pnn::Adam a;
    a.learning_rate = 0.01;
    a.batch_size = batch;
    a.iterations = iterations;
    a.seed = seed;
    a.lambda = lambda;
    a.weight_decay = weight_decay;
    return a;
}

// Runs f and returns the pnn::error message it throws ("" if it throws none).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const pnn::error& e) {
        return e.what();
    }
    return "";
}

// Runs f and returns whether the pnn::error it throws is reported_elsewhere (false if none).
template <class F>
bool reported_elsewhere(F&& f) {
    try {
        f();
    } catch (const pnn::error& e) {
        return e.reported_elsewhere();
    }
    return false;
}

// A timeline file as pnn writes it (Chrome trace JSON, one event a line), read back.
struct TraceEvent {
    std::string name;
    double ts = 0, dur = 0;  // microseconds
    int pid = -1;
    unsigned step = 0;
};
struct Trace {
    std::vector<TraceEvent> events;   // the complete ("X") events, in file order
    std::vector<int> processes;       // the pid of each process_name record
    std::string dropped;              // the "dropped" list, as written ("0,3")
    bool well_formed = false;         // begins and ends as one JSON object of traceEvents
};
inline Trace read_trace(const std::string& path) {
    Trace t;
    std::ifstream in(path);
    std::string line, first, last;
    while (std::getline(in, line)) {
        if (first.empty()) first = line;
        if (!line.empty()) last = line;
        char name[64];
        TraceEvent e;
        int pid = 0;
        if (std::sscanf(line.c_str(), "{\"name\":\"%63[a-z]\",\"cat\":\"pnn\",\"ph\":\"X\",\"ts\":%lf,\"dur\":%lf,\"pid\":%d,\"tid\":0,\"args\":{\"step\":%u}}",
                        name, &e.ts, &e.dur, &e.pid, &e.step) == 5) {
            e.name = name;
            t.events.push_back(e);
        } else if (std::sscanf(line.c_str(), "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d", &pid) == 1) {
            t.processes.push_back(pid);
        }
        const auto at = line.find("\"dropped\":[");
        if (at != std::string::npos) t.dropped = line.substr(at + 11, line.find(']', at) - at - 11);
    }
    t.well_formed = first == "{\"traceEvents\":[" && last.size() >= 2 && last.substr(last.size() - 2) == "}}";
    return t;
}

}  // namespace test
