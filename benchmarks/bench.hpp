// defines: what pnn's benchmark programs share: the seed's synthetic workload and timing a fit
// (statistics and the report line: report.hpp, shared with the C++ peers).
#pragma once
#include <chrono>
#include <pnn/pnn.hpp>
#include <random>
#include <string>
#include <vector>

#include "report.hpp"

namespace bench {

// m samples of n uniform inputs, labels cycling through k classes: the seed's shapes.
template <class T>
pnn::Dataset<T> synthetic(std::size_t m, std::size_t n, int k) {
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0, 1);
    xt::xtensor<T, 2> x = xt::xtensor<T, 2>::from_shape({m, n});
    xt::xtensor<int, 1> y = xt::xtensor<int, 1>::from_shape({m});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = T(u(rng));
    for (std::size_t i = 0; i < m; ++i) y(i) = int(i % std::size_t(k));
    return pnn::Dataset<T>(std::move(x), std::move(y));
}

// The workload: Fashion-MNIST's first m training images from dir (784 inputs), or, when dir is
// empty, m synthetic samples of n inputs.
template <class T>
pnn::Dataset<T> workload(const std::string& dir, std::size_t m, std::size_t n) {
    if (dir.empty()) return synthetic<T>(m, n, 10);
    pnn::IdxOptions o;
    o.rows = {0, m};
    return pnn::load_idx<T>(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz", o);
}

// ms per iteration of a fit (full batch, or mini-batches of `batch`), one timing per iteration
// after 3 warm-ups; each iteration's cost comes back to the host (for Cuda: one sync per step).
template <class Trainer, class T>
Stats time_fit(Trainer& t, const pnn::Dataset<T>& d, int repeats, std::size_t batch = 0) {
    pnn::Sgd opt;
    opt.learning_rate = 0.1;
    opt.batch_size = batch;
    opt.iterations = std::size_t(repeats) + 3;
    std::vector<double> ms;
    auto last = clock_type::now();
    t.fit(d, opt, [&](std::size_t i, double) {
        const auto now = clock_type::now();
        if (i > 3) ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
        last = now;
    });
    return stats(ms);
}

// The stage breakdown of a recorded fit (the seed's figures 4 to 6), one line per stage in ms
// per iteration: "stage NAME PRECISION STAGE ms".
inline void report_stages(const char* name, const char* precision, const pnn::StageTimes& st) {
    const double per = st.iterations ? 1e3 / double(st.iterations) : 0;
    const std::pair<const char*, double> rows[] = {{"scatter", st.scatter},     {"forward", st.forward}, {"backprop", st.backprop},
                                                   {"wait", st.wait},           {"reduction", st.reduction},
                                                   {"update", st.update},       {"bcast", st.bcast},     {"total", st.total}};
    for (const auto& [stage, seconds] : rows) std::printf("stage %s %s %s %.4f\n", name, precision, stage, seconds * per);
    std::fflush(stdout);
}

// Records a fit of `repeats` iterations (after clearing earlier records) and reports its stages.
template <class Trainer, class T>
void record_and_report_stages(Trainer& t, const pnn::Dataset<T>& d, int repeats, const char* name, const char* precision,
                              bool print = true) {
    t.reset_stages();
    t.record_stages(true);
    time_fit(t, d, repeats);
    t.record_stages(false);
    if (print) report_stages(name, precision, t.stages());
}

}  // namespace bench
