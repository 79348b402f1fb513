// Tests of the net, the cost, the gradient and training on the Cpu device with Local.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <pnn/comm/watchdog.hpp>
#include <random>

#include "support.hpp"

// Counts every heap allocation of this process (malloc and its relatives, which operator new
// and xsimd's aligned allocator both end in), so a test can check that the training loop
// allocates nothing per iteration. glibc's __libc_* entry points do the actual work.
#if defined(__GLIBC__) && !PNN_TEST_ASAN
#define PNN_COUNT_ALLOCATIONS 1
#include <atomic>
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}
static std::atomic<std::size_t> allocations{0};
extern "C" {
void* malloc(std::size_t n) {
    ++allocations;
    return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t s) {
    ++allocations;
    return __libc_calloc(n, s);
}
void* realloc(void* p, std::size_t n) {
    ++allocations;
    return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
    ++allocations;
    return __libc_memalign(a, n);
}
void* memalign(std::size_t a, std::size_t n) {
    ++allocations;
    return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
    ++allocations;
    *out = __libc_memalign(a, n);
    return *out ? 0 : 12;  // ENOMEM
}
void free(void* p) { __libc_free(p); }
}
#endif

using pnn::Cpu;
using pnn::Local;
template <class T>
using CpuTrainer = pnn::Trainer<pnn::Mlp<T>, Cpu, Local>;

TEST_CASE("Mlp: Theta shapes, one buffer, seeded initialisation") {
    pnn::Mlp<double> net({400, 25, 10}, 7);
    CHECK(net.layers() == 2);
    CHECK(net.theta(0).shape(0) == 25);
    CHECK(net.theta(0).shape(1) == 401);
    CHECK(net.theta(1).shape(0) == 10);
    CHECK(net.theta(1).shape(1) == 26);
    CHECK(net.parameter_count() == 25 * 401 + 10 * 26);
    CHECK(net.offset(1) == 25 * 401);
    // the Theta of layer 1 is the buffer's tail, row-major, column 0 the bias
    CHECK(net.theta(1)(3, 0) == net.parameters()[net.offset(1) + 3 * 26]);
    CHECK(net == pnn::Mlp<double>({400, 25, 10}, 7));
    CHECK_FALSE(net == pnn::Mlp<double>({400, 25, 10}, 8));
    double lo = 1, hi = -1;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        lo = std::min(lo, net.parameters()[i]);
        hi = std::max(hi, net.parameters()[i]);
    }
    CHECK(lo >= -0.12);
    CHECK(hi < 0.12);
    CHECK(lo < -0.11);  // the whole interval is used
    CHECK(hi > 0.11);

    auto t = net.theta(0);
    t(2, 5) = 3.5;
    net.set_theta(0, t);
    CHECK(net.theta(0)(2, 5) == 3.5);
    const auto wrong = xt::xtensor<double, 2>::from_shape({25, 400});
    CHECK(test::error_of([&] { net.set_theta(0, wrong); }).find("expected a 25 x 401 matrix") != std::string::npos);
    CHECK(test::error_of([&] { net.theta(2); }).find("layer index") != std::string::npos);
    CHECK(test::error_of([] { pnn::Mlp<float>({784}); }).find("at least 2") != std::string::npos);
    CHECK(test::error_of([] { pnn::Mlp<float>({784, 0, 10}); }).find("found 0 at position 1") != std::string::npos);

    // the layout: offsets, count and the mask of the L2 term (0 exactly on each Theta's column 0)
    const pnn::ThetaLayout& layout = net.layout();
    CHECK(layout.parameter_count() == net.parameter_count());
    CHECK(layout.offset(1) == net.offset(1));
    const auto mask = layout.weight_mask<float>();
    REQUIRE(mask.size() == net.parameter_count());
    std::size_t zeros = 0;
    for (std::size_t i = 0; i < mask.size(); ++i) {
        const bool bias = i < 25 * 401 ? i % 401 == 0 : (i - 25 * 401) % 26 == 0;
        CHECK(mask[i] == (bias ? 0.0f : 1.0f));
        zeros += mask[i] == 0;
    }
    CHECK(zeros == 25 + 10);
}

TEST_CASE("Mlp units: activations per hidden layer, the output, initialisation for each, bad settings") {
    using pnn::Activation;
    using pnn::Output;
    pnn::Mlp<double> net({64, 32, 16, 10}, 1, {Activation::relu, Activation::tanh}, Output::softmax);
    CHECK(net.activations() == std::vector<Activation>{Activation::relu, Activation::tanh});
    CHECK(net.output() == Output::softmax);
    CHECK_FALSE(net.is_seed_model());
    // one activation for every hidden layer; nets differing only in units are not equal
    const pnn::Mlp<double> all_relu({64, 32, 16, 10}, 1, Activation::relu, Output::softmax);
    CHECK(all_relu.activations() == std::vector<Activation>{Activation::relu, Activation::relu});
    CHECK(pnn::Mlp<double>({64, 32, 16, 10}, 1, std::vector<Activation>{Activation::relu}, Output::softmax) == all_relu);
    CHECK_FALSE(pnn::Mlp<double>({64, 32, 16, 10}, 1, Activation::relu, Output::sigmoid) == all_relu);
    // the seed's model by default, with the seed's draws: every entry from U(±0.12), one draw each
    const pnn::Mlp<double> seed_net({400, 25, 10}, 1);
    CHECK(seed_net.is_seed_model());
    CHECK(seed_net.activations() == std::vector<Activation>{Activation::sigmoid});
    CHECK(seed_net.output() == Output::sigmoid);
    std::mt19937_64 rng(1);
    for (std::size_t i = 0; i < seed_net.parameter_count(); ++i) {
        const double u = double(rng() >> 11) * 0x1.0p-53;
        if (seed_net.parameters()[i] != (2 * u - 1) * 0.12) {
            FAIL("the seed's draw differs at ", i);
            break;
        }
    }
    // He-uniform into ReLU units, Glorot-uniform elsewhere, biases 0, one draw per weight in
    // Theta's row-major order
    std::mt19937_64 again(1);
    const double bounds[] = {std::sqrt(6.0 / 64), std::sqrt(6.0 / (32 + 16)), std::sqrt(6.0 / (16 + 10))};
    for (std::size_t l = 0; l < 3; ++l) {
        const auto t = net.theta(l);
        double lo = 1, hi = -1;
        for (std::size_t r = 0; r < t.shape(0); ++r)
            for (std::size_t c = 0; c < t.shape(1); ++c) {
                if (c == 0) {
                    CHECK(t(r, c) == 0.0);
                    continue;
                }
                const double u = double(again() >> 11) * 0x1.0p-53;
                CHECK(t(r, c) == (2 * u - 1) * bounds[l]);
                lo = std::min(lo, t(r, c));
                hi = std::max(hi, t(r, c));
            }
        CHECK(lo >= -bounds[l]);
        CHECK(lo < -0.9 * bounds[l]);
        CHECK(hi > 0.9 * bounds[l]);
    }
    // a tanh net with a sigmoid output is not the seed's model either: Glorot everywhere
    const pnn::Mlp<float> tanh_net({8, 4, 2}, 3, Activation::tanh);
    CHECK(tanh_net.theta(0)(0, 0) == 0.0f);
    CHECK(std::abs(tanh_net.theta(0)(1, 1)) <= float(std::sqrt(6.0 / 12)));

    CHECK(test::error_of([] { pnn::Mlp<double>({4, 3, 3, 2}, 0, {Activation::relu, Activation::relu, Activation::tanh}); }) ==
          "pnn: Mlp activations: expected 1 activation (for every hidden layer) or 2 (one per hidden layer), found 3");
    CHECK(test::error_of([] { pnn::Mlp<double>({4, 3, 2}, 0, std::vector<Activation>{}); }).find("found 0") != std::string::npos);
    CHECK(test::error_of([] { pnn::Mlp<double>({4, 1}, 0, Activation::relu, Output::softmax); }) ==
          "pnn: Mlp output: softmax expects at least 2 output units, found 1");
    CHECK(test::error_of([] { (void)pnn::activation_named("gelu"); }) ==
          "pnn: activation: expected sigmoid, tanh or relu, found 'gelu'");
    CHECK(test::error_of([] { (void)pnn::output_named("linear", "--output"); }) ==
          "pnn: --output: expected sigmoid or softmax, found 'linear'");
    CHECK(pnn::activation_named("relu") == Activation::relu);
    CHECK(pnn::output_named("softmax") == Output::softmax);
}

TEST_CASE("cost on a tiny case computed by hand") {
    // One layer, 2 inputs -> 2 outputs; Theta = [[0.1, 0.2, -0.3], [-0.4, 0.5, 0.6]].
    pnn::Mlp<double> net({2, 2}, 0);
    net.set_theta(0, xt::xtensor<double, 2>{{0.1, 0.2, -0.3}, {-0.4, 0.5, 0.6}});
    pnn::Dataset<double> d(xt::xtensor<double, 2>{{1.0, 2.0}, {0.5, -1.0}}, xt::xtensor<int, 1>{1, 0});
    // sample 0: z = (0.1 + 0.2 - 0.6, -0.4 + 0.5 + 1.2) = (-0.3, 1.3), y = (0, 1)
    // sample 1: z = (0.1 + 0.1 + 0.3, -0.4 + 0.25 - 0.6) = (0.5, -0.75), y = (1, 0)
    auto s = [](double z) { return 1 / (1 + std::exp(-z)); };
    const double j = -(std::log(1 - s(-0.3)) + std::log(s(1.3)) + std::log(s(0.5)) + std::log(1 - s(-0.75))) / 2;
    CpuTrainer<double> t(net);
    CHECK(t.cost(d) == doctest::Approx(j).epsilon(1e-14));
    // L2: λ/(2m) Σ θ² over the weights only: (0.04 + 0.09 + 0.25 + 0.36) λ / 4
    CHECK(t.cost(d, 2.0) == doctest::Approx(j + 2.0 * 0.74 / 4).epsilon(1e-14));
}

TEST_CASE_TEMPLATE("cost equals an independent float64 computation, with and without L2, for every unit and output", T,
                   float, double) {
    const auto d = test::blobs<T>(300, 12, 4, 3);
    for (const auto& kind : test::every_unit_kind())
        for (std::vector<std::size_t> sizes : {std::vector<std::size_t>{12, 4}, {12, 7, 4}, {12, 9, 5, 4}}) {
            const auto activation = kind.first;
            const auto output = kind.second;
            CAPTURE(pnn::name_of(activation));
            CAPTURE(pnn::name_of(output));
            CAPTURE(sizes.size());
            pnn::Mlp<T> net(sizes, 11, activation, output);
            CpuTrainer<T> t(net);
            const double tol = std::is_same_v<T, double> ? 1e-12 : 1e-5;
            CHECK(t.cost(d, 0.0) == doctest::Approx(test::reference_cost(net, d, 0.0)).epsilon(tol));
            CHECK(t.cost(d, 1.5) == doctest::Approx(test::reference_cost(net, d, 1.5)).epsilon(tol));
        }
}

TEST_CASE("softmax cost on a case computed by hand, and logits of +-1000 give finite costs and gradients") {
    // One layer, 2 inputs -> 3 outputs, softmax. x = (1, 2) and (0.5, -1), labels 2 and 0.
    pnn::Mlp<double> net({2, 3}, 0, pnn::Activation::sigmoid, pnn::Output::softmax);
    net.set_theta(0, xt::xtensor<double, 2>{{0.1, 0.2, -0.3}, {-0.4, 0.5, 0.6}, {0.0, -0.1, 0.2}});
    pnn::Dataset<double> d(xt::xtensor<double, 2>{{1.0, 2.0}, {0.5, -1.0}}, xt::xtensor<int, 1>{2, 0});
    // sample 0: z = (0.1 + 0.2 - 0.6, -0.4 + 0.5 + 1.2, 0 - 0.1 + 0.4) = (-0.3, 1.3, 0.3), y = 2
    // sample 1: z = (0.1 + 0.1 + 0.3, -0.4 + 0.25 - 0.6, 0 - 0.05 - 0.2) = (0.5, -0.75, -0.25), y = 0
    auto nll = [](double a, double b, double c, double label) { return std::log(std::exp(a) + std::exp(b) + std::exp(c)) - label; };
    const double j = (nll(-0.3, 1.3, 0.3, 0.3) + nll(0.5, -0.75, -0.25, 0.5)) / 2;
    CpuTrainer<double> t(net);
    CHECK(t.cost(d) == doctest::Approx(j).epsilon(1e-14));
    CHECK(t.cost(d, 2.0) == doctest::Approx(j + 2.0 * (0.04 + 0.09 + 0.25 + 0.36 + 0.01 + 0.04) / 4).epsilon(1e-14));
    // ∂J/∂b_k = mean over samples of softmax(z)_k - [k = y]
    const auto g = t.gradient(d);
    auto p = [](double a, double b, double c, int k) { return std::exp(k == 0 ? a : k == 1 ? b : c) / (std::exp(a) + std::exp(b) + std::exp(c)); };
    for (int k = 0; k < 3; ++k)
        CHECK(g[0](k, 0) == doctest::Approx((p(-0.3, 1.3, 0.3, k) - (k == 2) + p(0.5, -0.75, -0.25, k) - (k == 0)) / 2).epsilon(1e-13));

    // logits 1000, -1000 and 0 from the biases: e^1000 overflows a double, the cost must not
    for (const auto output : {pnn::Output::softmax, pnn::Output::sigmoid}) {
        CAPTURE(pnn::name_of(output));
        pnn::Mlp<double> big({2, 3}, 0, pnn::Activation::sigmoid, output);
        big.set_theta(0, xt::xtensor<double, 2>{{1000, 0, 0}, {-1000, 0, 0}, {0, 0, 0}});
        CpuTrainer<double> b(big);
        // softmax: the sample of label 0 costs log(1 + e^-1000 + e^-2000) = 0, that of label 1
        // 2000; sigmoid: Σ softplus(z) - z_y, log 2 + 1000 - 1000 and log 2 + 1000 + 1000
        const double expected = output == pnn::Output::softmax ? (0.0 + 2000.0) / 2 : (std::log(2.0) + (2000 + std::log(2.0))) / 2;
        pnn::Dataset<double> two(xt::xtensor<double, 2>{{1.0, 2.0}, {0.5, -1.0}}, xt::xtensor<int, 1>{0, 1});
        CHECK(b.cost(two) == doctest::Approx(expected).epsilon(1e-14));
        for (const auto& gl : b.gradient(two)) CHECK(xt::all(xt::isfinite(gl)));
        pnn::Mlp<float> bigf({2, 3}, 0, pnn::Activation::sigmoid, output);
        bigf.set_theta(0, xt::cast<float>(big.theta(0)));
        CpuTrainer<float> bf(bigf);
        CHECK(bf.cost(pnn::Dataset<float>(xt::cast<float>(two.x()), two.y())) == doctest::Approx(expected).epsilon(1e-6));
    }
}

// Depth = number of weight layers.
std::vector<std::vector<std::size_t>> nets_of_depth_2_to_4() { return {{6, 5, 3}, {6, 5, 4, 3}, {6, 4, 7, 5, 3}}; }

// Which hidden units are on (z > 0), for every sample, computed in double: a central difference
// whose two steps switch a ReLU unit on or off spans the kink and is no derivative.
template <class T>
std::vector<bool> units_on(const pnn::Mlp<T>& net, const pnn::Dataset<T>& d) {
    std::vector<bool> on;
    for (std::size_t i = 0; i < d.size(); ++i) {
        std::vector<double> a(d.features());
        for (std::size_t f = 0; f < a.size(); ++f) a[f] = double(d.x()(i, f));
        for (std::size_t l = 0; l + 1 < net.layers(); ++l) {
            const auto t = net.theta(l);
            std::vector<double> z(t.shape(0));
            for (std::size_t r = 0; r < z.size(); ++r) {
                double s = double(t(r, 0));
                for (std::size_t c = 0; c < a.size(); ++c) s += double(t(r, c + 1)) * a[c];
                on.push_back(s > 0);
                z[r] = test::reference_unit(net.activations()[l], s);
            }
            a = z;
        }
    }
    return on;
}

// Checks every entry of pnn's gradient against the central difference (J(θ+h) - J(θ-h)) / step,
// where step is the difference of the two perturbed weights as rounded in T.
template <class T>
void check_finite_differences(const std::vector<std::size_t>& sizes, double lambda, T h, double epsilon,
                              pnn::Activation activation = pnn::Activation::sigmoid, pnn::Output output = pnn::Output::sigmoid) {
    CAPTURE(sizes.size());
    CAPTURE(lambda);
    CAPTURE(pnn::name_of(activation));
    CAPTURE(pnn::name_of(output));
    const auto d = test::blobs<T>(40, 6, 3, 5);
    pnn::Mlp<T> net(sizes, 21, activation, output);
    // Biases of 0 (the initialisation's, for these units) put a ReLU layer's z at exactly 0, on
    // the kink, for a sample whose units below are all off: a difference there is no derivative.
    for (std::size_t l = 0; l < net.layers(); ++l) {
        auto t = net.theta(l);
        for (std::size_t r = 0; r < t.shape(0); ++r) t(r, 0) = T(0.1 + 0.01 * double(r));
        net.set_theta(l, t);
    }
    const auto g = CpuTrainer<T>(net).gradient(d, lambda);
    REQUIRE(g.size() == sizes.size() - 1);
    std::size_t checked = 0, across_kink = 0;
    for (std::size_t l = 0; l < g.size(); ++l) {
        const auto theta = net.theta(l);
        for (std::size_t r = 0; r < theta.shape(0); ++r)
            for (std::size_t c = 0; c < theta.shape(1); ++c) {
                pnn::Mlp<T> plus = net, minus = net;
                auto tp = theta, tm = theta;
                tp(r, c) += h;
                tm(r, c) -= h;
                plus.set_theta(l, tp);
                minus.set_theta(l, tm);
                if (activation == pnn::Activation::relu && units_on(plus, d) != units_on(minus, d)) {
                    ++across_kink;
                    continue;
                }
                const double step = double(tp(r, c)) - double(tm(r, c));
                const double fd = (CpuTrainer<T>(plus).cost(d, lambda) - CpuTrainer<T>(minus).cost(d, lambda)) / step;
                CHECK(g[l](r, c) == doctest::Approx(fd).epsilon(epsilon).scale(1e-2));
                ++checked;
            }
    }
    CHECK(across_kink * 20 <= checked);  // a few at most: the check still covers the gradient
}

TEST_CASE("gradient matches central finite differences, depths 2 to 4, every unit and output (float64)") {
    // h = 1e-5: rounding (~ eps J / h) and truncation (~ h^2 J''') both stay below 1e-9.
    for (const auto& kind : test::every_unit_kind())
        for (const auto& sizes : nets_of_depth_2_to_4())
            for (double lambda : {0.0, 0.7}) check_finite_differences<double>(sizes, lambda, 1e-5, 1e-6, kind.first, kind.second);
}

TEST_CASE("gradient matches central finite differences, depths 2 to 4, every unit and output (float32)") {
    // float forward passes carry ~1e-7 relative rounding: a step of 1e-2 keeps that below 1e-5 in
    // the difference quotient, the truncation error (h^2 J''' / 6) about as small.
    for (const auto& kind : test::every_unit_kind())
        for (const auto& sizes : nets_of_depth_2_to_4()) check_finite_differences<float>(sizes, 0.7, 1e-2f, 1e-2, kind.first, kind.second);
}

TEST_CASE("float32 gradient matches the float64 gradient of the same weights, depths 2 to 4") {
    const auto dd = test::blobs<double>(200, 6, 3, 9);
    const pnn::Dataset<float> df(xt::cast<float>(dd.x()), dd.y());
    for (const auto& sizes : nets_of_depth_2_to_4()) {
        pnn::Mlp<float> nf(sizes, 4);
        pnn::Mlp<double> nd(sizes, 4);
        for (std::size_t l = 0; l < nf.layers(); ++l) nd.set_theta(l, xt::cast<double>(nf.theta(l)));
        const auto gf = CpuTrainer<float>(nf).gradient(df, 0.3);
        const auto gd = CpuTrainer<double>(nd).gradient(dd, 0.3);
        for (std::size_t l = 0; l < gf.size(); ++l) {
            const double scale = xt::amax(xt::abs(gd[l]))();
            CHECK(xt::amax(xt::abs(xt::cast<double>(gf[l]) - gd[l]))() <= 1e-5 * scale);
        }
    }
}

TEST_CASE("the gradient does not depend on the block size the device works in") {
    const auto d = test::blobs<double>(1000, 30, 5, 1);
    pnn::Mlp<double> net({30, 16, 8, 5}, 2);
    Cpu one_block, blocks_of_16;
    one_block.block_bytes = 1 << 30;
    blocks_of_16.block_bytes = 16 * 31 * sizeof(double);  // the first weights' 16 x 31: not more
    REQUIRE(blocks_of_16.block_rows(30 * sizeof(double), 16 * 31 * sizeof(double)) == 16);
    // first weights past the budget: 4 times the rows (no reuse in cache to keep)
    CHECK(blocks_of_16.block_rows(30 * sizeof(double), 16 * 31 * sizeof(double) + 1) == 66);
    CpuTrainer<double> whole(net, Local{}, one_block);
    CpuTrainer<double> small(net, Local{}, blocks_of_16);
    const auto a = whole.gradient(d, 0.1), b = small.gradient(d, 0.1);
    for (std::size_t l = 0; l < a.size(); ++l) CHECK(xt::allclose(a[l], b[l], 1e-12, 1e-15));
    CHECK(whole.cost(d) == doctest::Approx(small.cost(d)).epsilon(1e-13));
}

TEST_CASE("OverlapChoice: overlapped first, then alternating; the order whose best step, summed over ranks, is faster") {
    struct TwoRanksAlike {  // a communicator's sum over two ranks that measured the same
        void sum(double* p, std::size_t n) const {
            for (std::size_t i = 0; i < n; ++i) p[i] *= 2;
        }
    };
    for (bool overlapped_faster : {true, false}) {
        CAPTURE(overlapped_faster);
        pnn::OverlapChoice c;
        const double steps[4] = {5.0, 3.0, overlapped_faster ? 2.5 : 3.5, 4.0};  // O (warming up), B, O, B
        for (int i = 0; i < 4; ++i) {
            CHECK_FALSE(c.decided);
            CHECK(c.next_overlaps() == (i % 2 == 0));
            c.record(steps[i], TwoRanksAlike{});
        }
        REQUIRE(c.decided);
        CHECK(c.overlap == overlapped_faster);
        CHECK(c.blocked_seconds == 6.0);
        CHECK(c.overlapped_seconds == (overlapped_faster ? 5.0 : 7.0));
        CHECK(c.next_overlaps() == overlapped_faster);
        c.record(0.1, TwoRanksAlike{});  // decided: nothing changes
        CHECK(c.overlap == overlapped_faster);
        CHECK(c.blocked_seconds == 6.0);
    }
}

TEST_CASE("the overlapped order: each piece of the gradient is final when reported; sums are the blocked order's") {
    const auto d = test::blobs<double>(1000, 30, 5, 1);
    const pnn::MatrixRef<const double> x = d.x_ref();
    for (auto output : {pnn::Output::sigmoid, pnn::Output::softmax}) {
        CAPTURE(int(output));
        pnn::Mlp<double> net({30, 16, 8, 5}, 2, {pnn::Activation::relu, pnn::Activation::tanh}, output);
        Cpu dev;
        dev.block_bytes = 16 * 31 * sizeof(double);  // blocks of 16 rows
        const std::size_t p = net.parameter_count();
        std::vector<double> blocked(p, 0.0);
        pnn::Backprop<Cpu, double> reference(dev, net.layout(), net.activations(), net.output());
        const double cost = reference.accumulate(net.parameters(), x, d.labels_data(), blocked.data());
        // What backprop reports, and a copy of each piece as it was when reported.
        struct Sink {
            const std::vector<double>& grad;
            std::size_t end;
            double cost = -1;
            std::size_t polls = 0;
            std::vector<std::pair<std::size_t, std::vector<double>>> pieces{};
            void cost_ready(pnn::Backprop<Cpu, double>::QueuedCost read) { cost = read(); }
            void ready(std::size_t from) {
                REQUIRE(from < end);
                pieces.push_back({from, std::vector<double>(grad.begin() + long(from), grad.begin() + long(end))});
                end = from;
            }
            void poll() { ++polls; }
        };
        // a window of one block (the 984 rows before it in the blocked order), or of every row;
        // chunks of one unit, of a few, of a layer
        for (bool small_window : {true, false})
            for (std::size_t chunk : {std::size_t(1), std::size_t(40), std::size_t(100000)}) {
                CAPTURE(small_window);
                CAPTURE(chunk);
                pnn::Backprop<Cpu, double> bp(dev, net.layout(), net.activations(), net.output());
                if (small_window) bp.set_window_bytes(0);
                std::vector<double> grad(p, 0.0);
                Sink sink{grad, p};
                const double c = bp.accumulate_overlapped(net.parameters(), x, d.labels_data(), grad.data(), chunk, sink);
                CHECK(bp.window_rows() == (small_window ? 16u : 1000u));
                CHECK(sink.cost == c);
                CHECK(c == doctest::Approx(cost).epsilon(1e-13));
                CHECK(sink.end == 0);
                CHECK(sink.polls > 0);
                // one piece per unit; per 40 elements' worth of units (1 unit of 31 elements, 2 of
                // 17, 4 of 9: 16 + 4 + 2 pieces); or per layer
                const std::size_t expected = chunk == 1 ? 16 + 8 + 5 : chunk == 40 ? 16 + 4 + 2 : 3;
                CHECK(sink.pieces.size() == expected);
                for (const auto& [from, values] : sink.pieces)
                    for (std::size_t i = 0; i < values.size(); ++i) REQUIRE(values[i] == grad[from + i]);
                CHECK(test::relative_difference(grad.data(), blocked.data(), p) <= 1e-12);
            }
    }
}

// A naive triple loop in long double, the reference for every product path of Cpu::gemm.
template <class T>
void check_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, std::size_t pad, T beta) {
    CAPTURE(ta);
    CAPTURE(tb);
    CAPTURE(m);
    CAPTURE(n);
    CAPTURE(k);
    CAPTURE(pad);
    std::mt19937_64 rng(m * 1000003 + n * 1009 + k);
    std::uniform_real_distribution<double> u(-1, 1);
    const std::size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    // operands with a leading dimension wider than their columns, starting one element in, as
    // the weights inside a Theta matrix do
    std::vector<T> a(ar * (ac + pad) + 1), b(br * (bc + pad) + 1), c(m * (n + pad) + 1);
    for (auto* v : {&a, &b, &c})
        for (T& x : *v) x = T(u(rng));
    const std::vector<T> c0 = c;
    pnn::MatrixRef<const T> ma{a.data() + 1, ar, ac, ac + pad}, mb{b.data() + 1, br, bc, bc + pad};
    pnn::MatrixRef<T> mc{c.data() + 1, m, n, n + pad};
    Cpu().gemm(ta, tb, T(0.75), ma, mb, beta, mc);
    double worst = 0;
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            long double s = 0;
            for (std::size_t p = 0; p < k; ++p)
                s += (long double)(ta ? ma.row(p)[i] : ma.row(i)[p]) * (long double)(tb ? mb.row(j)[p] : mb.row(p)[j]);
            const long double expect = 0.75L * s + (long double)beta * (long double)c0[1 + i * (n + pad) + j];
            worst = std::max(worst, double(std::abs(expect - (long double)mc.row(i)[j])));
        }
    CHECK(worst <= (std::is_same_v<T, float> ? 2e-5 : 1e-13) * double(k));
    // nothing outside C changed (the padding between rows, the element before)
    CHECK(c[0] == c0[0]);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = n; j < n + pad; ++j) CHECK(c[1 + i * (n + pad) + j] == c0[1 + i * (n + pad) + j]);
    if (!ta && tb) {
        // B as a pass's packed weights: the same kernel on the same values, so the same bits
        std::vector<T> cp = c0;
        pnn::Cpu cpu;
        pnn::Cpu::packed_weights<T> packed;
        cpu.pack_weights(packed, mb);
        cpu.gemm(T(0.75), ma, packed, beta, pnn::MatrixRef<T>{cp.data() + 1, m, n, n + pad});
        CHECK(cp == c);
    }
}

TEST_CASE_TEMPLATE("packed weights follow their values and the level in use", T, float, double) {
    // the seed's first layer: 25 units of 400 inputs, against 13 rows
    const std::size_t m = 13, n = 25, k = 400;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<T> a(m * k), w(n * k), c(m * n), expect(m * n);
    for (auto* v : {&a, &w})
        for (T& x : *v) x = T(u(rng));
    const pnn::MatrixRef<const T> ma{a.data(), m, k}, mw{w.data(), n, k};
    const pnn::MatrixRef<T> mc{c.data(), m, n}, me{expect.data(), m, n};
    pnn::Cpu cpu;
    pnn::Cpu::packed_weights<T> packed;
    const pnn::CpuKernels first = pnn::simd::active();
    for (pnn::CpuKernels level : pnn::cpu_kernel_levels()) {
        CAPTURE(pnn::name_of(level));
        pnn::use_cpu_kernels(level);
        cpu.pack_weights(packed, mw);
        cpu.gemm(T(1), ma, packed, T(0), mc);
        cpu.gemm(false, true, T(1), ma, mw, T(0), me);
        CHECK(c == expect);
        // new values, packed again: the product follows them
        for (T& x : w) x = -x;
        cpu.pack_weights(packed, mw);
        cpu.gemm(T(1), ma, packed, T(0), mc);
        cpu.gemm(false, true, T(1), ma, mw, T(0), me);
        CHECK(c == expect);
        // packed at one level, multiplied at another: still the product of the level in use
        for (pnn::CpuKernels other : pnn::cpu_kernel_levels()) {
            pnn::use_cpu_kernels(level);
            cpu.pack_weights(packed, mw);
            pnn::use_cpu_kernels(other);
            cpu.gemm(T(1), ma, packed, T(0), mc);
            cpu.gemm(false, true, T(1), ma, mw, T(0), me);
            CHECK(c == expect);
        }
    }
    pnn::use_cpu_kernels(first);
}

TEST_CASE_TEMPLATE("Cpu::gemm equals a naive product on every path (pnn's kernels and BLAS)", T, float, double) {
    for (std::size_t pad : {0, 3})
        for (T beta : {T(0), T(1), T(-0.5)}) {
            // narrow outputs with long reductions: pnn's kernels, every tile remainder
            // (rows: every remainder of the dot form's 5-row and the broadcast form's 6-row
            // tiles; columns: whole and partial vectors and pairs of them at every width;
            // reductions shorter than a vector, and with and without a tail after the last whole
            // vector, of an even and an odd length: the broadcast form's one-vector tiles take
            // steps in pairs; its last N mod w columns are dot products)
            for (std::size_t m : {1, 2, 3, 4, 5, 6, 7, 11, 50})
                for (std::size_t n : {1, 2, 3, 4, 5, 9, 12, 25, 64})
                    for (std::size_t k : {3, 400, 403}) check_gemm<T>(false, true, m, n, k, pad, beta);
            // (rows of C: every remainder of the 8- and 6-row tiles, whose tiles of fewer than 8
            // vectors take the rows of A and B in pairs: an odd count of them here)
            for (std::size_t m : {1, 5, 6, 7, 8, 9, 11, 25, 64})
                for (std::size_t n : {16, 17, 33, 64, 401}) check_gemm<T>(true, false, m, n, 37, pad, beta);
            // shapes that go to BLAS
            check_gemm<T>(false, false, 30, 25, 10, pad, beta);
            check_gemm<T>(false, true, 30, 10, 25, pad, beta);
            check_gemm<T>(true, false, 10, 5, 30, pad, beta);
            check_gemm<T>(false, true, 10, 100, 300, pad, beta);
        }
}

TEST_CASE_TEMPLATE("full-batch training lowers the cost and is the seed's update", T, float, double) {
    const auto d = test::blobs<T>(500, 10, 3, 4);
    pnn::Mlp<T> net({10, 8, 3}, 5);
    CpuTrainer<T> t(net);
    const double before = t.cost(d);
    pnn::Sgd opt;
    opt.learning_rate = 2.0;
    opt.iterations = 1;
    // one update by hand: Θ - η ∂J/∂Θ
    const auto g = t.gradient(d);
    const auto h1 = t.fit(d, opt);
    CHECK(h1.size() == 1);
    CHECK(h1[0] == doctest::Approx(before).epsilon(1e-12));
    for (std::size_t l = 0; l < g.size(); ++l) {
        const xt::xtensor<T, 2> expect = net.theta(l) - T(2.0) * g[l];
        CHECK(t.net().theta(l) == expect);
    }
    opt.iterations = 200;
    const auto h = t.fit(d, opt);
    CHECK(h.size() == 200);
    CHECK(h.back() < 0.5 * before);
    CHECK(t.cost(d) < h.back());
    CHECK(t.step() == 201);
}

TEST_CASE("mini-batch SGD with momentum: fit(k) then fit(n-k) equals fit(n) bit for bit") {
    const auto d = test::blobs<double>(437, 9, 4, 6);  // 437 = 6 batches of 64 and one of 53
    pnn::Mlp<double> net({9, 12, 4}, 8);
    pnn::Sgd opt;
    opt.learning_rate = 0.5;
    opt.batch_size = 64;
    opt.momentum = 0.9;
    opt.seed = 42;
    opt.lambda = 0.01;
    opt.iterations = 25;  // crosses three epoch boundaries
    CpuTrainer<double> one(net);
    const auto h = one.fit(d, opt);
    CpuTrainer<double> two(net);
    opt.iterations = 11;
    auto h2 = two.fit(d, opt);
    opt.iterations = 14;
    const auto rest = two.fit(d, opt);
    h2.insert(h2.end(), rest.begin(), rest.end());
    CHECK(h == h2);
    CHECK(one.net() == two.net());
    // a different shuffle seed gives a different model
    CpuTrainer<double> other(net);
    opt.seed = 43;
    opt.iterations = 25;
    other.fit(d, opt);
    CHECK_FALSE(other.net() == one.net());
    CHECK(one.cost(d) < CpuTrainer<double>(net).cost(d));
}

// ---- Adam and AdamW ----

TEST_CASE("Adam and AdamW: a few steps written out by hand, biases excluded from the decay") {
    // The rule in double, from the gradient pnn computes (checked against finite differences
    // above) at each step's weights: full batch, so every step's gradient is the whole data's.
    const auto d = test::blobs<double>(120, 6, 3, 2);
    const pnn::Mlp<double> net({6, 5, 3}, 4, pnn::Activation::relu, pnn::Output::softmax);
    for (const auto& kind : {std::pair{0.0, 0.0}, std::pair{0.1, 0.0}, std::pair{0.1, 0.3}}) {
        const auto wd = kind.first;
        const auto lambda = kind.second;
        CAPTURE(wd);
        CAPTURE(lambda);
        const pnn::Adam a = test::adam_settings(0, 4, 5, lambda, wd);
        pnn::Mlp<double> by_hand = net;
        const std::size_t n = net.parameter_count();
        std::vector<double> m(n, 0.0), v(n, 0.0);
        const auto mask = net.layout().weight_mask<double>();
        for (int t = 1; t <= 4; ++t) {
            const auto g = CpuTrainer<double>(by_hand).gradient(d, lambda);
            std::vector<double> flat;
            for (const auto& gl : g) flat.insert(flat.end(), gl.begin(), gl.end());
            double* theta = by_hand.parameters();
            for (std::size_t i = 0; i < n; ++i) {
                theta[i] *= mask[i] ? 1 - a.learning_rate * wd : 1.0;
                m[i] = a.beta1 * m[i] + (1 - a.beta1) * flat[i];
                v[i] = a.beta2 * v[i] + (1 - a.beta2) * flat[i] * flat[i];
                const double step = a.learning_rate / (1 - std::pow(a.beta1, t));
                theta[i] -= step * m[i] / (std::sqrt(v[i]) / std::sqrt(1 - std::pow(a.beta2, t)) + a.epsilon);
            }
        }
        CpuTrainer<double> t(net);
        const auto history = t.fit(d, a);
        CHECK(history.size() == 4);
        CHECK(test::relative_difference(t.net(), by_hand) <= 1e-13);
        CHECK(t.net().parameters()[0] != net.parameters()[0]);  // it moved
        // the decay leaves biases alone: with a zero gradient (lr tiny, no data pull) only
        // weights shrink — checked through the by-hand rule above, which excludes them
    }
}

TEST_CASE_TEMPLATE("the fused Adam update is the rule in double, at every level", T, float, double) {
    const std::size_t n = 203;
    std::mt19937_64 rng(12);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<T> theta(n), m(n), v(n), g(n), mask(n);
    for (std::size_t i = 0; i < n; ++i) {
        theta[i] = T(u(rng)), m[i] = T(0.1 * u(rng)), v[i] = T(0.01 * std::abs(u(rng))), g[i] = T(50 * u(rng));
        mask[i] = T(i % 7 != 0);
    }
    const double lr = 0.003, wd = 0.02, b1 = 0.9, b2 = 0.999, eps = 1e-8, inv_m = 1.0 / 64, lm = 0.3 / 64;
    const int t = 3;
    const double step = lr / (1 - std::pow(b1, t)), bc2 = std::sqrt(1 - std::pow(b2, t));
    const pnn::CpuKernels was = pnn::simd::active();
    for (pnn::CpuKernels level : pnn::cpu_kernel_levels()) {
        pnn::use_cpu_kernels(level);
        CAPTURE(pnn::cpu_kernels());
        for (const bool masked : {true, false}) {
            CAPTURE(masked);
            std::vector<T> th = theta, mm = m, vv = v;
            const pnn::fn::adam_update<T> f{{T(inv_m), T(masked ? lm : 0)}, T(masked ? lr * wd : 0), T(b1), T(b2), T(1 - b1),
                                            T(1 - b2), T(step), T(bc2), T(eps)};
            Cpu{}.adam_step(th.data(), mm.data(), vv.data(), g.data(), masked ? mask.data() : nullptr, n, f);
            double worst = 0;
            // each error against the size of its terms, with the constants as T holds them
            const double B1 = T(b1), B2 = T(b2), C1 = T(1 - b1), C2 = T(1 - b2), LR_WD = T(lr * wd), S = T(step), BC2 = T(bc2);
            for (std::size_t i = 0; i < n; ++i) {
                const double gi = double(g[i]) * T(inv_m) + (masked ? double(T(lm)) * mask[i] * theta[i] : 0);
                double th_i = double(theta[i]) * (masked && mask[i] ? 1 - LR_WD : 1.0);
                const double mi = B1 * m[i] + C1 * gi, vi = B2 * v[i] + C2 * gi * gi;
                th_i -= S * mi / (std::sqrt(vi) / BC2 + double(T(eps)));
                worst = std::max({worst, std::abs(mm[i] - mi) / (B1 * std::abs(m[i]) + C1 * std::abs(gi)),
                                  std::abs(vv[i] - vi) / vi, std::abs(th[i] - th_i) / (std::abs(th_i) + S)});
            }
            CHECK(worst <= 16 * std::numeric_limits<T>::epsilon());
        }
    }
    pnn::use_cpu_kernels(was);
}

TEST_CASE("Adam: fit(k) then fit(n-k) equals fit(n) bit for bit; one optimizer kind per state; bad settings") {
    const auto d = test::blobs<double>(437, 9, 4, 6);
    const pnn::Mlp<double> net({9, 12, 8, 4}, 8, pnn::Activation::tanh, pnn::Output::softmax);
    const pnn::Adam opt = test::adam_settings(64, 25, 5, 0.001, 0.01);
    CpuTrainer<double> one(net), two(net);
    const auto h = one.fit(d, opt);
    pnn::Adam part = opt;
    part.iterations = 11;
    auto h2 = two.fit(d, part);
    part.iterations = 14;
    const auto rest = two.fit(d, pnn::Optimizer(part));  // the variant too
    h2.insert(h2.end(), rest.begin(), rest.end());
    CHECK(h == h2);
    CHECK(one.net() == two.net());
    CHECK(one.cost(d) < CpuTrainer<double>(net).cost(d));

    // the state is Adam's now: an Sgd fit is refused until reset_optimizer
    pnn::Sgd sgd;
    sgd.iterations = 2;
    const pnn::Mlp<double> before = two.net();
    CHECK(test::error_of([&] { two.fit(d, sgd); }) ==
          "pnn: fit: this trainer's optimizer state is Adam's, and this fit is Sgd's; call reset_optimizer() first to start "
          "Sgd from a zero state");
    CHECK(two.net() == before);
    two.reset_optimizer();
    CHECK(two.fit(d, sgd).size() == 2);
    CHECK(test::error_of([&] { two.fit(d, opt); }).find("optimizer state is Sgd's, and this fit is Adam's") != std::string::npos);
    // after a reset, Adam starts again from t = 0: the same as a fresh trainer from these weights
    two.reset_optimizer();
    CpuTrainer<double> fresh(two.net());
    pnn::Adam few = opt;
    few.iterations = 3;
    few.batch_size = 0;
    CHECK(two.fit(d, few) == fresh.fit(d, few));
    CHECK(two.net() == fresh.net());

    auto bad = [&](auto edit) {
        pnn::Adam a = opt;
        edit(a);
        return test::error_of([&] { CpuTrainer<double>(net).fit(d, a); });
    };
    CHECK(bad([](pnn::Adam& a) { a.beta1 = 1; }) == "pnn: Adam beta1: expected a value in [0, 1), found 1");
    CHECK(bad([](pnn::Adam& a) { a.beta2 = -0.1; }) == "pnn: Adam beta2: expected a value in [0, 1), found -0.1");
    CHECK(bad([](pnn::Adam& a) { a.epsilon = 0; }) == "pnn: Adam epsilon: expected a finite value > 0, found 0");
    CHECK(bad([](pnn::Adam& a) { a.weight_decay = -1; }) == "pnn: Adam weight_decay: expected a finite value >= 0, found -1");
    CHECK(bad([](pnn::Adam& a) { a.learning_rate = 0; }) == "pnn: Adam learning_rate: expected a finite value > 0, found 0");
    CHECK(bad([](pnn::Adam& a) { a.lambda = -2; }) == "pnn: Adam lambda: expected a finite value >= 0, found -2");
    CHECK(bad([](pnn::Adam& a) { a.batch_size = 1000; }).find("Adam batch_size: expected at most the 437 samples") != std::string::npos);
}

#ifdef PNN_COUNT_ALLOCATIONS
// Heap allocations of one fit of `iterations` updates with these settings.
template <class Trainer, class Opt>
std::size_t allocations_of_fit(Trainer& t, const pnn::Dataset<double>& d, Opt opt, std::size_t iterations) {
    opt.iterations = iterations;
    const std::size_t before = allocations.load();
    t.fit(d, opt);
    return allocations.load() - before;
}

TEST_CASE("the training loop allocates nothing per iteration") {
    const auto d = test::blobs<double>(700, 20, 4, 3);
    for (std::size_t batch : {std::size_t(0), std::size_t(64)}) {
        CAPTURE(batch);
        CpuTrainer<double> t(pnn::Mlp<double>({20, 16, 8, 4}, 1));
        pnn::Sgd opt;
        opt.learning_rate = 0.5;
        opt.batch_size = batch;
        opt.momentum = 0.9;
        opt.lambda = 0.1;
        opt.iterations = 2;
        t.fit(d, opt);  // first use: workspaces grow, the first epoch's order is drawn
        // Allocations per fit call must not depend on its iteration count. 11 x 64 > 700, so
        // the longer run crosses epochs, whose orders reuse the first one's storage.
        const std::size_t few = allocations_of_fit(t, d, opt, 3), many = allocations_of_fit(t, d, opt, 30);
        CHECK(many == few);
        CHECK(few <= 2);  // the history vector, and nothing else
        // the same for a ReLU / softmax net trained with AdamW
        CpuTrainer<double> a(pnn::Mlp<double>({20, 16, 8, 4}, 1, pnn::Activation::relu, pnn::Output::softmax));
        const pnn::Adam adam = test::adam_settings(batch, 2, 5, 0.1, 0.01);
        a.fit(d, adam);
        const std::size_t few_adam = allocations_of_fit(a, d, adam, 3), many_adam = allocations_of_fit(a, d, adam, 30);
        CHECK(many_adam == few_adam);
        CHECK(few_adam <= 2);
    }
}
#endif

TEST_CASE("stage timing: recorded in fit when asked, nothing otherwise") {
    const auto d = test::blobs<double>(2000, 30, 4, 3);
    CpuTrainer<double> t(pnn::Mlp<double>({30, 20, 4}, 1));
    pnn::Sgd opt;
    opt.iterations = 20;
    t.fit(d, opt);
    t.cost(d);
    CHECK(t.stages().total == 0);
    CHECK(t.stages().iterations == 0);
    t.record_stages(true);
    t.fit(d, opt);
    t.cost(d);  // evaluations are not recorded
    const pnn::StageTimes s = t.stages();
    CHECK(s.iterations == 20);
    CHECK(s.forward > 0);
    CHECK(s.backprop > 0);
    CHECK(s.update > 0);
    const double parts = s.scatter + s.forward + s.backprop + s.reduction + s.update + s.bcast;
    CHECK(parts <= s.total);  // the stages are laps of one clock inside the total
    CHECK(s.table().find("backprop") != std::string::npos);
    t.reset_stages();
    CHECK(t.stages().iterations == 0);
}

TEST_CASE("timeline: every stage of every step as Chrome trace JSON, within its bound; nothing when off") {
    const auto d = test::blobs<double>(2000, 30, 4, 3);
    CpuTrainer<double> t(pnn::Mlp<double>({30, 20, 4}, 1));
    pnn::Sgd opt;
    opt.iterations = 4;
    t.fit(d, opt);
    CHECK(t.timeline().events().empty());  // off by default
    t.record_timeline(true);
    t.fit(d, opt);
    t.cost(d);  // evaluations are not recorded
    const auto& events = t.timeline().events();
    // each step (5 to 8: the trainer's count goes on) has its forward and backprop blocks, then
    // the wait, the reduction, the update and the bcast (empty here); the first, the scatter
    std::vector<std::string> seen(9);
    double last_end = 0;
    for (const auto& e : events) {
        CHECK(e.begin >= last_end);  // one rank's stages do not overlap, and come in order
        CHECK(e.end >= e.begin);
        last_end = e.end;
        REQUIRE(e.step >= 5);
        REQUIRE(e.step <= 8);
        if (seen[e.step].empty() || seen[e.step].back() != pnn::name_of(e.stage)[0]) seen[e.step] += pnn::name_of(e.stage)[0];
    }
    // (collapsed to one letter a run: s scatter, f forward, b backprop, w wait, r reduction,
    // u update, b bcast; as many f-b pairs as the 2000 rows make blocks)
    auto blocks_then_rest = [](std::string s) {
        if (s.size() < 6 || s.substr(s.size() - 4) != "wrub") return false;
        s.resize(s.size() - 4);
        for (std::size_t i = 0; i < s.size(); i += 2)
            if (s.compare(i, 2, "fb") != 0) return false;
        return true;
    };
    CHECK(seen[5].substr(0, 1) == "s");
    CHECK(blocks_then_rest(seen[5].substr(1)));
    for (unsigned k = 6; k <= 8; ++k) CHECK(blocks_then_rest(seen[k]));
    CHECK(t.timeline().dropped() == 0);
    // the file: the same events, in microseconds, one process
    const std::string path = "/tmp/pnn-core-timeline-" + std::to_string(::getpid()) + ".json";
    t.write_timeline(path);
    const test::Trace trace = test::read_trace(path);
    CHECK(trace.well_formed);
    REQUIRE(trace.events.size() == events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        CHECK(trace.events[i].name == pnn::name_of(events[i].stage));
        CHECK(trace.events[i].step == events[i].step);
        CHECK(trace.events[i].pid == 0);
        CHECK(trace.events[i].ts == doctest::Approx(1e6 * events[i].begin).epsilon(1e-6));
        CHECK(trace.events[i].dur >= 0);
    }
    CHECK(trace.processes == std::vector<int>{0});
    CHECK(trace.dropped == "0");
    // bounded: 5 events kept, the rest counted
    const std::size_t unbounded = events.size();
    t.record_timeline(true, 5);  // (forgets the events above)
    t.fit(d, opt);
    CHECK(t.timeline().events().size() == 5);
    CHECK(t.timeline().dropped() == unbounded - 5);  // as many events as the same fit made before
    t.write_timeline(path);
    CHECK(test::read_trace(path).dropped == std::to_string(t.timeline().dropped()));
    std::remove(path.c_str());
    CHECK(test::error_of([&] { t.record_timeline(true, 0); }).find("record_timeline: expected room for at least 1 event") !=
          std::string::npos);
    // a file that cannot be written is an error naming it
    CHECK(test::error_of([&] { t.write_timeline("/no/such/dir/t.json"); }).find("/no/such/dir/t.json: cannot create") !=
          std::string::npos);
}

// Runs f in a child process; returns its exit status and what it wrote to stderr.
template <class F>
std::pair<int, std::string> in_child(F&& f) {
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(pipe_fds[1], 2);
        close(pipe_fds[0]);
        f();
        std::_Exit(0);
    }
    close(pipe_fds[1]);
    std::string err;
    char buf[512];
    for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof buf)) > 0;) err.append(buf, std::size_t(n));
    close(pipe_fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, err};
}

TEST_CASE("the watchdog ends a process whose collective call waits too long, and only then") {
    using namespace std::chrono_literals;
    // Status 3 is the watchdog's: left alone, the child would sleep its 5 s and exit 0.
    const auto [status, err] = in_child([] {
        pnn::Watchdog dog(300ms, 7);
        dog.at_step(42);
        pnn::Watchdog::Watch watch(dog, "a call that never returns");
        std::this_thread::sleep_for(5s);
    });
    CHECK(status == 3);
    const std::string& message = err;  // (clang 14 captures no structured binding)
    INFO(message);
    CHECK(err.find("rank 7 has waited 0 s in a call that never returns at step 42") != std::string::npos);
    // calls that return in time, and time spent outside calls, never trip it
    const auto [quiet, nothing] = in_child([] {
        pnn::Watchdog dog(300ms, 0);
        for (int i = 0; i < 5; ++i) {
            pnn::Watchdog::Watch watch(dog, "a quick call");
            std::this_thread::sleep_for(100ms);
        }
        std::this_thread::sleep_for(1s);
    });
    CHECK(quiet == 0);
    CHECK(nothing.empty());
}

TEST_CASE("mini-batches visit every sample once per epoch") {
    std::vector<std::size_t> order;
    pnn::epoch_order(order, 1000, 3, 0);
    std::vector<std::size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == i);
    std::vector<std::size_t> next;
    pnn::epoch_order(next, 1000, 3, 1);
    CHECK(next != order);
    std::vector<std::size_t> again;
    pnn::epoch_order(again, 1000, 3, 0);
    CHECK(again == order);
    // A batch as large as the data is the full batch: the same step as batch_size 0.
    const auto d = test::blobs<double>(100, 5, 2, 1);
    pnn::Mlp<double> net({5, 4, 2}, 3);
    pnn::Sgd opt;
    opt.iterations = 3;
    CpuTrainer<double> a(net), b(net);
    a.fit(d, opt);
    opt.batch_size = 100;
    b.fit(d, opt);
    CHECK(a.net() == b.net());
}

TEST_CASE("predict and accuracy") {
    // One layer, 2 inputs -> 3 classes: class = which input is large, or class 2 when neither.
    pnn::Mlp<double> net({2, 3}, 0);
    net.set_theta(0, xt::xtensor<double, 2>{{-5, 10, 0}, {-5, 0, 10}, {0, 0, 0}});
    CpuTrainer<double> t(net);
    xt::xtensor<double, 2> x{{1, 0}, {0, 1}, {0, 0}, {0.9, 0.1}, {0.2, 0.8}};
    const xt::xtensor<int, 1> p = t.predict(x);
    CHECK(p == xt::xtensor<int, 1>{0, 1, 2, 0, 1});
    CHECK(t.accuracy(pnn::Dataset<double>(x, xt::xtensor<int, 1>{0, 1, 2, 1, 1})) == doctest::Approx(0.8));
    // many rows, spanning several blocks
    const auto d = test::blobs<double>(3000, 2, 3, 1);
    const auto all = t.predict(d.x());
    std::size_t same = 0;
    for (std::size_t i = 0; i < d.size(); ++i) same += all(i) == d.y()(i);
    CHECK(t.accuracy(d) == doctest::Approx(double(same) / 3000));
}

TEST_CASE("bad input raises pnn::error naming the argument") {
    const auto d = test::blobs<double>(50, 6, 3, 2);
    pnn::Mlp<double> net({6, 4, 3}, 1);
    CpuTrainer<double> t(net);
    auto contains = [](const std::string& msg, const std::string& part) {
        INFO(msg);
        CHECK(msg.find(part) != std::string::npos);
    };
    // width differs from the net's input
    const auto wide = test::blobs<double>(20, 7, 3, 2);
    contains(test::error_of([&] { t.cost(wide); }), "expected 6 features per sample (the net's inputs), found 7");
    contains(test::error_of([&] { t.predict(wide.x()); }), "predict input: expected 6 features");
    // labels outside 0..k-1
    xt::xtensor<int, 1> y = d.y();
    y(17) = 3;
    contains(test::error_of([&] { t.fit(pnn::Dataset<double>(d.x(), y), pnn::Sgd{}); }),
             "expected labels in 0..2 (the net has 3 outputs), found 3 at sample 17");
    y(17) = -1;
    contains(test::error_of([&] { pnn::Dataset<double>(d.x(), y); }), "expected labels >= 0, found -1 at sample 17");
    // NaN and Inf in inputs
    xt::xtensor<double, 2> x = d.x();
    x(4, 2) = std::numeric_limits<double>::quiet_NaN();
    contains(test::error_of([&] { pnn::Dataset<double>(x, d.y()); }), "expected finite inputs, found nan at sample 4, feature 2");
    x(4, 2) = std::numeric_limits<double>::infinity();
    contains(test::error_of([&] { pnn::Dataset<double>(x, d.y()); }), "found inf at sample 4");
    contains(test::error_of([&] { t.predict(x); }), "predict input: expected finite inputs");
    // rows and labels disagree
    contains(test::error_of([&] { pnn::Dataset<double>(d.x(), xt::xtensor<int, 1>{1, 2}); }),
             "expected one label per sample (50 samples), found 2 labels");
    // empty dataset
    contains(test::error_of([&] { t.cost(pnn::Dataset<double>()); }), "expected at least one sample, found an empty dataset");
    contains(test::error_of([&] { t.fit(pnn::Dataset<double>(), pnn::Sgd{}); }), "empty dataset");
    // optimizer settings
    pnn::Sgd opt;
    opt.learning_rate = 0;
    contains(test::error_of([&] { t.fit(d, opt); }), "learning_rate: expected a finite value > 0, found 0");
    opt.learning_rate = -1;
    contains(test::error_of([&] { t.fit(d, opt); }), "learning_rate: expected a finite value > 0, found -1");
    opt = {};
    opt.batch_size = 51;
    contains(test::error_of([&] { t.fit(d, opt); }), "batch_size: expected at most the 50 samples");
    opt = {};
    opt.momentum = 1.0;
    contains(test::error_of([&] { t.fit(d, opt); }), "momentum: expected a value in [0, 1), found 1");
    opt = {};
    opt.lambda = -0.5;
    contains(test::error_of([&] { t.fit(d, opt); }), "lambda: expected a finite value >= 0, found -0.5");
    contains(test::error_of([&] { t.cost(d, std::nan("")); }), "lambda: expected a finite value >= 0");
    // nothing above changed the trainer
    CHECK(t.net() == net);
    CHECK(t.step() == 0);
}

TEST_CASE("a run whose cost becomes NaN stops with an error naming the iteration") {
    const auto d = test::blobs<double>(50, 6, 3, 2);
    pnn::Mlp<double> net({6, 4, 3}, 1);
    pnn::Sgd opt;
    opt.iterations = 50;
    CpuTrainer<double> t(net);
    t.fit(d, opt);  // 50 good iterations first: the error must name the one that failed
    // weights of +inf and -inf on inputs of one sign make z = inf - inf = NaN
    auto theta = t.net().theta(0);
    theta(0, 1) = std::numeric_limits<double>::infinity();
    theta(0, 2) = -std::numeric_limits<double>::infinity();
    pnn::Mlp<double> broken = t.net();
    broken.set_theta(0, theta);
    const auto positive = pnn::Dataset<double>(xt::abs(d.x()) + 0.1, d.y());
    CpuTrainer<double> b(broken);
    const std::string msg = test::error_of([&] { b.fit(positive, opt); });
    INFO(msg);
    CHECK(msg.find("fit: the cost became NaN at iteration 1 ") != std::string::npos);
    CHECK(msg.find("the learning rate (2) may be too high") != std::string::npos);
}

// ---- the CPU kernel levels (pnn/simd/level.hpp) ----

namespace {
// e^x and log(1 + x) of the vector layer, for the tests below: PNN_HD as the library's functors
// are (always inlined under clang, into the level's entry point; clang 14 gave exp(746) = 1 for
// 32-byte vectors in a function of no level, where it inlined exp otherwise)
struct vector_exp {
    template <class V>
    PNN_HD V operator()(const V& x) const {
        return exp(x);
    }
};
struct vector_tanh {
    template <class V>
    PNN_HD V operator()(const V& x) const {
        return tanh(x);
    }
};
struct vector_log1p {
    template <class V>
    PNN_HD V operator()(const V& x) const {
        return log1p(x);
    }
};
template <class F, class T>
void at_level(F f, T* out, std::size_t n, const T* in) {
    pnn::simd::dispatch([&](auto width) { pnn::simd::transform<typename decltype(width)::template vec<T>>(f, out, n, in); });
}
// |a - b| in units of the last place of b (for b = 0: in units of the smallest subnormal)
template <class T>
double ulps(T a, T b) {
    if (a == b) return 0;
    if (!std::isfinite(a) || !std::isfinite(b)) return 1e30;
    const T unit = b == 0 ? std::numeric_limits<T>::denorm_min()
                          : std::nextafter(std::abs(b), std::numeric_limits<T>::infinity()) - std::abs(b);
    return double(std::abs(a - b) / unit);
}
}  // namespace

TEST_CASE_TEMPLATE("exp and log1p of the vector layer, at the level in use, are within 4 ulp of the C library's", T,
                   float, double) {
    CAPTURE(pnn::cpu_kernels());
    std::mt19937_64 rng(5);
    const double range = std::is_same_v<T, float> ? 104 : 746;  // past both ends: 0 and inf
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<T> x(100003), e(x.size()), l(x.size()), small(x.size());  // an odd count: the padded tail too
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = T(range * u(rng));
        small[i] = T(std::ldexp(std::abs(u(rng)), -int(rng() % 70)));  // (0, 1], down to 2^-70
    }
    x[0] = 0, x[1] = T(1e-30), x[2] = -T(1e-30), x[3] = T(range), x[4] = -T(range);
    at_level(vector_exp{}, e.data(), x.size(), x.data());
    at_level(vector_log1p{}, l.data(), x.size(), small.data());
    double worst_exp = 0, worst_log = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        worst_exp = std::max(worst_exp, ulps(e[i], std::exp(x[i])));
        worst_log = std::max(worst_log, ulps(l[i], std::log1p(small[i])));
    }
    CHECK(worst_exp <= 4);
    CHECK(worst_log <= 4);
    // the ends: overflow to inf, underflow to 0, NaN through
    const T specials[] = {T(1e6), T(-1e6), std::numeric_limits<T>::quiet_NaN()};
    T out[3];
    at_level(vector_exp{}, out, 3, specials);
    CHECK(out[0] == std::numeric_limits<T>::infinity());
    CHECK(out[1] == 0);
    CHECK(std::isnan(out[2]));
}

TEST_CASE_TEMPLATE("tanh of the vector layer is within 4 ulp of the C library's; ReLU passes NaN on", T, float, double) {
    CAPTURE(pnn::cpu_kernels());
    std::mt19937_64 rng(8);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<T> x(100003), t(x.size());
    for (std::size_t i = 0; i < x.size(); ++i)  // both branches (|x| below and above 1/2), tiny and saturated values
        x[i] = i % 3 == 0 ? T(25 * u(rng)) : i % 3 == 1 ? T(0.6 * u(rng)) : T(std::ldexp(u(rng), -int(rng() % 60)));
    x[0] = 0, x[1] = T(0.5), x[2] = -T(0.5), x[3] = std::nextafter(T(0.5), T(0)), x[4] = T(1e-30);
    at_level(vector_tanh{}, t.data(), x.size(), x.data());
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, ulps(t[i], std::tanh(x[i])));
    CHECK(worst <= 4);
    const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
    const T specials[] = {inf, -inf, nan, T(-0.0), T(1e6), T(-1e6)};
    T out[6];
    at_level(vector_tanh{}, out, 6, specials);
    CHECK(out[0] == 1);
    CHECK(out[1] == -1);
    CHECK(std::isnan(out[2]));
    CHECK((out[3] == 0 && std::signbit(out[3])));
    CHECK(out[4] == 1);
    CHECK(out[5] == -1);
    // relu(z) and δ relu'(z) through a, at the level in use: relu'(0) = 0, NaN passed on
    const T z[] = {nan, T(-1), T(0), T(2), T(-0.0)};
    T r[5], d[5];
    at_level(pnn::fn::rectifier{}, r, 5, z);
    CHECK(std::isnan(r[0]));
    CHECK(r[1] == 0);
    CHECK(r[2] == 0);
    CHECK(r[3] == 2);
    const T delta[] = {T(3), T(3), T(3), T(3), T(3)};
    Cpu{}.map(pnn::fn::times_relu_grad{}, d, 5, delta, static_cast<const T*>(r));
    CHECK(d[1] == 0);
    CHECK(d[2] == 0);
    CHECK(d[3] == 3);
}

TEST_CASE_TEMPLATE("the fused update is the gradient's finish and the momentum step, at every level", T, float, double) {
    // v = mu v - eta (g / m + (lambda / m) mask theta), theta += v, against the same in double
    const std::size_t n = 203;  // 12 vectors of 16 floats and a partial one
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<T> theta(n), v(n), g(n), mask(n);
    for (std::size_t i = 0; i < n; ++i) {
        theta[i] = T(u(rng)), v[i] = T(0.1 * u(rng)), g[i] = T(50 * u(rng)), mask[i] = T(i % 7 != 0);
    }
    const T inv_m = T(1.0 / 64), lambda_m = T(0.3 / 64), mu = T(0.9), eta = T(0.5);
    const pnn::CpuKernels was = pnn::simd::active();
    for (pnn::CpuKernels level : pnn::cpu_kernel_levels()) {
        pnn::use_cpu_kernels(level);
        CAPTURE(pnn::cpu_kernels());
        for (const bool l2 : {true, false}) {
            CAPTURE(l2);
            std::vector<T> th = theta, vel = v;
            const pnn::fn::sgd_update<T> f{{inv_m, l2 ? lambda_m : T(0)}, {mu, eta}};
            Cpu{}.sgd_step(th.data(), vel.data(), g.data(), l2 ? mask.data() : nullptr, n, f);
            // each error within a few roundings of the terms' size (the levels fuse differently)
            double worst = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const double l2_term = l2 ? double(lambda_m) * mask[i] * theta[i] : 0;
                const double gi = double(g[i]) * inv_m + l2_term;
                const double vi = double(mu) * v[i] - double(eta) * gi;
                const double scale = std::abs(double(mu) * v[i]) + double(eta) * (std::abs(double(g[i]) * inv_m) + std::abs(l2_term));
                worst = std::max(worst, std::abs(vel[i] - vi) / scale);
                CHECK(th[i] == T(theta[i] + vel[i]));  // theta + v, one rounding
            }
            CHECK(worst <= 4 * std::numeric_limits<T>::epsilon());
            if (!l2) {  // without L2 the mask is not read: the same values as with lambda = 0
                std::vector<T> th0 = theta, vel0 = v;
                Cpu{}.sgd_step(th0.data(), vel0.data(), g.data(), mask.data(), n, f);
                CHECK(th0 == th);
                CHECK(vel0 == vel);
            }
        }
    }
    pnn::use_cpu_kernels(was);
}

TEST_CASE("every level this CPU has trains the same model, within rounding, as the reference and as each other") {
    const auto d = test::blobs<double>(700, 40, 5, 3);  // 700 x 40: every kernel, and a partial last vector
    const auto df = test::blobs<float>(700, 40, 5, 3);
    const pnn::Mlp<double> initial({40, 33, 17, 5}, 2);
    const pnn::Mlp<float> initial_f({40, 33, 17, 5}, 2);
    const auto opt = test::sgd_settings(0, 15, 1);
    const pnn::CpuKernels was = pnn::simd::active();
    std::vector<pnn::Mlp<double>> nets;
    std::vector<pnn::Mlp<float>> float_nets;
    for (pnn::CpuKernels level : pnn::cpu_kernel_levels()) {
        pnn::use_cpu_kernels(level);
        CAPTURE(pnn::cpu_kernels());
        CHECK(pnn::cpu_kernels() == pnn::name_of(level));
        CpuTrainer<double> t(initial);
        CHECK(t.cost(d, 0.05) == doctest::Approx(test::reference_cost(initial, d, 0.05)).epsilon(1e-12));
        t.fit(d, opt);
        nets.push_back(t.net());
        CpuTrainer<float> f(initial_f);
        CHECK(f.cost(df, 0.05) == doctest::Approx(test::reference_cost(initial_f, df, 0.05)).epsilon(1e-5));
        f.fit(df, opt);
        float_nets.push_back(f.net());
    }
    for (std::size_t i = 1; i < nets.size(); ++i) {
        CHECK(test::relative_difference(nets[i], nets[0]) <= 1e-12);
        CHECK(test::relative_difference(float_nets[i], float_nets[0]) <= 1e-4);
    }
    pnn::use_cpu_kernels(was);
}

TEST_CASE("PNN_CPU and use_cpu_kernels: a bad level is an error at first use, naming what is accepted and what this CPU has") {
    const std::string has = pnn::simd::supported_list();
    // in a child: the level is chosen once per process
    const auto [status, err] = in_child([] {
        pnn::simd::chosen().store(-1);
        pnn::simd::forced().store(-1);
        setenv("PNN_CPU", "sse9", 1);
        std::fprintf(stderr, "%s|", test::error_of([] { (void)pnn::cpu_kernels(); }).c_str());
        std::fprintf(stderr, "%s|", test::error_of([] { (void)pnn::cpu_kernels(); }).c_str());  // again, not cached
        setenv("PNN_CPU", "generic", 1);
        std::fprintf(stderr, "%s|", std::string(pnn::cpu_kernels()).c_str());
        std::fprintf(stderr, "%s|", test::error_of([] { pnn::use_cpu_kernels("avx1024"); }).c_str());
        std::fprintf(stderr, "%s", std::string(pnn::cpu_kernels()).c_str());
    });
    CHECK(status == 0);
    const std::string bad = "pnn: PNN_CPU: expected generic, avx2 or avx512, found 'sse9' (this CPU has " + has + ")";
    CHECK(err == bad + "|" + bad + "|generic|pnn: use_cpu_kernels: expected generic, avx2 or avx512, found 'avx1024' (this CPU has " + has + ")|generic");
    // a level this CPU lacks (only where it lacks one)
    if (pnn::simd::highest_supported() != pnn::CpuKernels::avx512) {
        const auto [s2, e2] = in_child([] {
            pnn::simd::chosen().store(-1);
            pnn::simd::forced().store(-1);  // an earlier case's use_cpu_kernels would outrank PNN_CPU
            setenv("PNN_CPU", "avx512", 1);
            std::fprintf(stderr, "%s", test::error_of([] { (void)pnn::cpu_kernels(); }).c_str());
        });
        CHECK(s2 == 0);
        CHECK(e2 == "pnn: PNN_CPU: this CPU lacks avx512; it has " + has);
    }
}

// ctest and meson run this file once per level, with PNN_CPU set: each level's kernels are checked
// against the references above. A level this CPU lacks is skipped (status 77).
int main(int argc, char** argv) {
    const char* wanted = std::getenv("PNN_CPU");
    if (wanted && *wanted && pnn::simd::level_named(wanted) > int(pnn::simd::highest_supported())) {
        std::printf("skipped: this CPU lacks %s (it has %s)\n", wanted, pnn::simd::supported_list().c_str());
        return 77;
    }
    std::printf("core_test: CPU kernels %s\n", std::string(pnn::cpu_kernels()).c_str());
    doctest::Context context(argc, argv);
    return context.run();
}

TEST_CASE("local_rank: the MPI library's launcher decides over Slurm's, whose variable ranks inherit") {
    using Env = std::map<std::string, std::string>;
    auto rank_in = [](const Env& env) {
        return pnn::local_rank_from([&](const char* name) -> const char* {
            const auto it = env.find(name);
            return it == env.end() ? nullptr : it->second.c_str();
        });
    };
    CHECK_FALSE(rank_in({}).has_value());  // started by hand
    CHECK(rank_in({{"SLURM_LOCALID", "3"}}) == 3);  // srun --mpi=pmix started the ranks
    // mpirun inside an allocation: the daemons are Slurm's tasks, SLURM_LOCALID 0 on every host
    CHECK(rank_in({{"SLURM_LOCALID", "0"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}}) == 1);
    CHECK(rank_in({{"SLURM_LOCALID", "0"}, {"MPI_LOCALRANKID", "2"}}) == 2);  // Hydra's mpiexec
    for (const char* bad : {"", "-1", "one", "1 ", "12345678901"}) {
        CAPTURE(bad);
        CHECK_THROWS_WITH_AS(rank_in({{"OMPI_COMM_WORLD_LOCAL_RANK", bad}}),
                             doctest::Contains("OMPI_COMM_WORLD_LOCAL_RANK: expected a local rank"), pnn::error);
    }
}
