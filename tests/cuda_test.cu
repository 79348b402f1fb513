// Tests of pnn::Cuda against pnn::Cpu (the independent reference): cost, gradient, trained
// weights and predictions for nets of depth 2 to 4 in float and double, every hidden unit and
// output; outputs poisoned before
// each kernel must be fully overwritten; the fused cost kernel and the CUDA-graph step agree with
// the plain ones; CUDA failures must be pnn::error naming the call.
// Where there is no CUDA device it prints "skipped: no CUDA device" and exits 77 (skipped).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "support.hpp"

namespace {

pnn::Sgd settings(std::size_t batch) { return test::sgd_settings(batch, 25, 5); }

template <class T>
void agrees_with_cpu(pnn::Activation activation, pnn::Output output) {
    CAPTURE(pnn::name_of(activation));
    CAPTURE(pnn::name_of(output));
    const auto data = test::blobs<T>(700, 12, 4, 11);
    for (const std::vector<std::size_t>& sizes : {std::vector<std::size_t>{12, 8, 4}, std::vector<std::size_t>{12, 10, 6, 4},
                                                  std::vector<std::size_t>{12, 10, 8, 6, 4}}) {
        CAPTURE(sizes.size() - 1);
        const pnn::Mlp<T> net(sizes, 3, activation, output);
        pnn::Trainer<pnn::Mlp<T>, pnn::Cpu> cpu(net);
        pnn::Trainer<pnn::Mlp<T>, pnn::Cuda> gpu(net, pnn::Local{}, pnn::Cuda{});
        CHECK(gpu.cost(data, 0.1) == doctest::Approx(cpu.cost(data, 0.1)).epsilon(test::tolerance<T>));
        const auto gc = cpu.gradient(data, 0.1), gg = gpu.gradient(data, 0.1);
        for (std::size_t l = 0; l < gc.size(); ++l) CHECK(test::relative_difference(gg[l].data(), gc[l].data(), gc[l].size()) <= test::tolerance<T>);
        for (std::size_t batch : {std::size_t(0), std::size_t(96)}) {
            CAPTURE(batch);
            const auto hc = cpu.fit(data, settings(batch));
            const auto hg = gpu.fit(data, settings(batch));
            REQUIRE(hc.size() == hg.size());
            for (std::size_t i = 0; i < hc.size(); ++i) CHECK(hg[i] == doctest::Approx(hc[i]).epsilon(test::tolerance<T> * 10));
            CHECK(test::relative_difference(gpu.net().parameters(), cpu.net().parameters(), net.parameter_count()) <= test::tolerance<T> * 10);
        }
        CHECK(gpu.predict(data.x()) == cpu.predict(data.x()));
        CHECK(gpu.accuracy(data) == cpu.accuracy(data));
        // AdamW (decay, L2), full batch and mini-batch
        for (std::size_t batch : {std::size_t(0), std::size_t(96)}) {
            CAPTURE(batch);
            const pnn::Adam adam = test::adam_settings(batch, 25, 5, 0.1, 0.01);
            pnn::Trainer<pnn::Mlp<T>, pnn::Cpu> cpu_adam(net);
            pnn::Trainer<pnn::Mlp<T>, pnn::Cuda> gpu_adam(net, pnn::Local{}, pnn::Cuda{});
            const auto hc = cpu_adam.fit(data, adam);
            const auto hg = gpu_adam.fit(data, adam);
            for (std::size_t i = 0; i < hc.size(); ++i) CHECK(hg[i] == doctest::Approx(hc[i]).epsilon(test::tolerance<T> * 10));
            CHECK(test::relative_difference(gpu_adam.net().parameters(), cpu_adam.net().parameters(), net.parameter_count()) <=
                  test::tolerance<T> * 10);
        }
    }
}

// A device buffer filled with value, and its contents back on the host.
template <class T>
thrust::device_vector<T> poisoned(std::size_t n, T value) {
    return thrust::device_vector<T>(n, value);
}
template <class T>
std::vector<T> host(const thrust::device_vector<T>& v) {
    std::vector<T> out(v.size());
    thrust::copy(v.begin(), v.end(), out.begin());
    return out;
}

}  // namespace

TEST_CASE("Cuda and Cpu agree on cost, gradient, training (Sgd, AdamW) and predictions, depths 2 to 4, every unit and output") {
    for (const auto& kind : test::every_unit_kind()) {
        const auto activation = kind.first;
        const auto output = kind.second;
        agrees_with_cpu<float>(activation, output);
        agrees_with_cpu<double>(activation, output);
    }
}

TEST_CASE("every kernel overwrites its whole output, whatever was there") {
    using T = double;
    pnn::Cuda gpu;
    pnn::Cpu cpu;
    const std::size_t m = 37, n = 9, k = 5;
    const T nan = std::numeric_limits<T>::quiet_NaN();
    std::vector<T> a(m * n), w(k * n), bias(k);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(double(i));
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::cos(double(i));
    for (std::size_t i = 0; i < k; ++i) bias[i] = 0.1 * double(i);
    thrust::device_vector<T> da(a.begin(), a.end()), dw(w.begin(), w.end()), db(bias.begin(), bias.end());
    const pnn::MatrixRef<const T> ga{thrust::raw_pointer_cast(da.data()), m, n}, gw{thrust::raw_pointer_cast(dw.data()), k, n};

    // gemm with β = 0 into NaN: C = A W^T, every entry
    auto c = poisoned<T>(m * k, nan);
    gpu.gemm(false, true, T(1), ga, gw, T(0), pnn::MatrixRef<T>{thrust::raw_pointer_cast(c.data()), m, k});
    std::vector<T> ref(m * k);
    cpu.narrow = 0;
    cpu.gemm(false, true, T(1), pnn::MatrixRef<const T>{a.data(), m, n}, pnn::MatrixRef<const T>{w.data(), k, n}, T(0),
             pnn::MatrixRef<T>{ref.data(), m, k});
    CHECK(test::relative_difference(host(c).data(), ref.data(), ref.size()) <= 1e-13);

    // fill_rows into NaN
    auto z = poisoned<T>(m * k, nan);
    gpu.fill_rows(pnn::MatrixRef<T>{thrust::raw_pointer_cast(z.data()), m, k},
                  pnn::VectorRef<const T>{thrust::raw_pointer_cast(db.data()), k, 1});
    const auto hz = host(z);
    for (std::size_t i = 0; i < hz.size(); ++i) CHECK(hz[i] == bias[i % k]);

    // argmax_rows into -1, gather_rows into NaN and -1
    auto out = poisoned<int>(m, -1);
    gpu.argmax_rows(ga, thrust::raw_pointer_cast(out.data()));
    std::vector<int> ref_out(m);
    cpu.argmax_rows(pnn::MatrixRef<const T>{a.data(), m, n}, ref_out.data());
    CHECK(host(out) == ref_out);

    std::vector<int> labels(m);
    for (std::size_t i = 0; i < m; ++i) labels[i] = int(i % k);
    std::vector<std::size_t> index = {5, 0, 36, 5, 17};
    thrust::device_vector<int> dl(labels.begin(), labels.end());
    thrust::device_vector<std::size_t> di(index.begin(), index.end());
    auto xb = poisoned<T>(index.size() * n, nan);
    auto yb = poisoned<int>(index.size(), -1);
    gpu.gather_rows(ga, thrust::raw_pointer_cast(dl.data()), thrust::raw_pointer_cast(di.data()),
                    pnn::MatrixRef<T>{thrust::raw_pointer_cast(xb.data()), index.size(), n}, thrust::raw_pointer_cast(yb.data()));
    const auto hx = host(xb);
    const auto hy = host(yb);
    for (std::size_t r = 0; r < index.size(); ++r) {
        CHECK(hy[r] == labels[index[r]]);
        for (std::size_t j = 0; j < n; ++j) CHECK(hx[r * n + j] == a[index[r] * n + j]);
    }
}

TEST_CASE("the output kernels: cost and delta as Cpu computes them, the cost reproducible bit for bit") {
    using T = double;
    pnn::Cuda gpu;
    pnn::Cpu cpu;
    for (const pnn::Output output : {pnn::Output::sigmoid, pnn::Output::softmax})
    for (std::size_t m : {std::size_t(1), std::size_t(37), std::size_t(40000)}) {  // 40000 x 10: more than one pass of the grid
        CAPTURE(pnn::name_of(output));
        CAPTURE(m);
        const std::size_t k = 10;
        std::vector<T> z(m * k);
        std::vector<int> labels(m);
        for (std::size_t i = 0; i < z.size(); ++i) z[i] = 3 * std::sin(0.7 * double(i));
        for (std::size_t i = 0; i < m; ++i) labels[i] = int((i * 7) % k);
        thrust::device_vector<int> dl(labels.begin(), labels.end());
        double costs[2];
        for (double& cost : costs) {
            thrust::device_vector<T> dz(z.begin(), z.end());
            thrust::device_vector<double> dc(1, 0.5);  // the sum is added to what is there
            const pnn::MatrixRef<T> gz{thrust::raw_pointer_cast(dz.data()), m, k};
            if (output == pnn::Output::softmax) gpu.softmax_output_delta(gz, thrust::raw_pointer_cast(dl.data()), thrust::raw_pointer_cast(dc.data()));
            else gpu.sigmoid_output_delta(gz, thrust::raw_pointer_cast(dl.data()), thrust::raw_pointer_cast(dc.data()));
            cost = host(dc)[0];
            std::vector<T> ref = z;
            double ref_cost = 0.5;
            const pnn::MatrixRef<T> cz{ref.data(), m, k};
            if (output == pnn::Output::softmax) cpu.softmax_output_delta(cz, labels.data(), &ref_cost);
            else cpu.sigmoid_output_delta(cz, labels.data(), &ref_cost);
            CHECK(cost == doctest::Approx(ref_cost).epsilon(1e-12));
            CHECK(test::relative_difference(host(dz).data(), ref.data(), ref.size()) <= 1e-13);
        }
        CHECK(costs[0] == costs[1]);
    }
}

TEST_CASE("a full-batch step replayed as a CUDA graph trains the same model as kernel by kernel, bit for bit") {
    using T = float;
    const auto data = test::blobs<T>(900, 12, 4, 5);
    const pnn::Mlp<T> net({12, 10, 6, 4}, 7);
    pnn::Trainer<pnn::Mlp<T>, pnn::Cuda> replayed(net, pnn::Local{}, pnn::Cuda{}), plain(net, pnn::Local{}, pnn::Cuda{});
    plain.record_stages(true);  // timing stages waits between kernels: no graph
    const auto a = replayed.fit(data, settings(0)), b = plain.fit(data, settings(0));
    CHECK(a == b);
    CHECK(std::vector<T>(replayed.net().parameters(), replayed.net().parameters() + net.parameter_count()) ==
          std::vector<T>(plain.net().parameters(), plain.net().parameters() + net.parameter_count()));
    // A second fit on other data records anew, and still agrees with the CPU.
    const auto other = test::blobs<T>(500, 12, 4, 9);
    pnn::Trainer<pnn::Mlp<T>, pnn::Cpu> cpu(replayed.net());
    const auto hg = replayed.fit(other, settings(0)), hc = cpu.fit(other, settings(0));
    for (std::size_t i = 0; i < hc.size(); ++i) CHECK(hg[i] == doctest::Approx(hc[i]).epsilon(test::tolerance<T> * 10));
}

TEST_CASE("CUDA failures are pnn::error naming the call") {
    const std::string msg = test::error_of([] { pnn::Cuda bad(1 << 20); });
    CHECK(msg.find("cudaSetDevice") != std::string::npos);
}

int main(int argc, char** argv) {
    if (pnn::Cuda::device_count() == 0) {
        std::printf("skipped: no CUDA device\n");
        return 77;
    }
    doctest::Context context(argc, argv);
    return context.run();
}
