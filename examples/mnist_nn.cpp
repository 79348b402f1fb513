// mnist_nn: the seed's program (a sigmoid net trained by gradient descent) on real data.
//
//   mnist_nn                                  # Fashion-MNIST, 5000 images, 784-25-10, full batch,
//                                             # learning rate 2, 1000 iterations, float64
//   mnist_nn --train-samples 0 --hidden 256 --batch-size 256 --iterations 4700 --precision float
//
// Prints the cost per iteration, train and test accuracy and the time per iteration.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <pnn/pnn.hpp>
#include <string>
#include <vector>

namespace {

struct Options {
    std::string data_dir = "/usr/share/datasets/fashion-mnist";
    std::size_t train_samples = 5000;
    std::size_t test_samples = 0;
    std::vector<std::size_t> hidden{25};
    pnn::Sgd sgd;
    std::uint64_t weight_seed = 1;
    std::string precision = "double";
    int threads = 1;
    std::size_t print_every = 1;
};

// first n samples of an IDX pair (0 = all)
template <class T>
pnn::Dataset<T> load(const Options& o, const std::string& prefix, std::size_t n) {
    const std::string images = o.data_dir + "/" + prefix + "-images-idx3-ubyte.gz";
    const std::string labels = o.data_dir + "/" + prefix + "-labels-idx1-ubyte.gz";
    pnn::IdxOptions idx;
    if (n > 0) idx.rows = {0, n};
    return pnn::load_idx<T>(images, labels, idx);
}

template <class T>
int run(const Options& o) {
    using clock = std::chrono::steady_clock;
    const pnn::Dataset<T> train = load<T>(o, "train", o.train_samples);
    const pnn::Dataset<T> test = load<T>(o, "t10k", o.test_samples);

    std::vector<std::size_t> sizes{train.features()};
    sizes.insert(sizes.end(), o.hidden.begin(), o.hidden.end());
    sizes.push_back(10);
    pnn::Trainer<pnn::Mlp<T>, pnn::Cpu, pnn::Local> trainer(pnn::Mlp<T>(sizes, o.weight_seed));

    std::string shape;
    for (std::size_t s : sizes) shape += (shape.empty() ? "" : "-") + std::to_string(s);
    std::printf("net %s (%s), %zu training and %zu test samples, %s, learning rate %g, %zu iterations\n",
                shape.c_str(), o.precision.c_str(), train.size(), test.size(),
                o.sgd.batch_size ? ("batch size " + std::to_string(o.sgd.batch_size)).c_str() : "full batch",
                o.sgd.learning_rate, o.sgd.iterations);

    pnn::Progress progress(o.sgd.iterations, "training");
    std::vector<double> seconds;  // per iteration, for the median
    seconds.reserve(o.sgd.iterations);
    auto last = clock::now();
    const auto start = last;
    trainer.fit(train, o.sgd, [&](std::size_t i, double cost) {
        const auto now = clock::now();
        seconds.push_back(std::chrono::duration<double>(now - last).count());
        last = now;
        if (o.print_every && (i % o.print_every == 0 || i == o.sgd.iterations))
            progress.print("iteration %zu, cost %.6f\n", i, cost);
        progress.update(i, cost);
    });
    const double total = std::chrono::duration<double>(clock::now() - start).count();
    progress.finish();

    std::printf("train accuracy %.2f%%, test accuracy %.2f%%\n", 100 * trainer.accuracy(train),
                100 * trainer.accuracy(test));
    if (!seconds.empty()) {
        std::sort(seconds.begin(), seconds.end());
        std::printf("time per iteration: %.3f ms median, %.3f ms mean (%zu iterations, %.2f s)\n",
                    1e3 * seconds[seconds.size() / 2], 1e3 * total / double(seconds.size()), seconds.size(), total);
    }
    return 0;
}

// A command-line check with a message that says what was expected and what was found.
CLI::Validator number_check(const char* expected, bool (*ok)(double)) {
    return CLI::Validator(
        [expected, ok](std::string& text) -> std::string {
            double v = 0;
            try {
                std::size_t used = 0;
                v = std::stod(text, &used);
                if (used != text.size()) throw std::invalid_argument(text);
            } catch (const std::exception&) {
                return std::string("expected a number ") + expected + ", found '" + text + "'";
            }
            return ok(v) ? std::string() : std::string("expected a number ") + expected + ", found " + text;
        },
        expected);
}
// Counts: digits only, so that "-3" is an error rather than 2^64 - 3.
const CLI::Validator count(
    [](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        return digits ? std::string() : "expected a whole number >= 0, found '" + text + "'";
    },
    "COUNT");
const CLI::Validator positive = number_check("> 0", [](double v) { return v > 0 && std::isfinite(v); });
const CLI::Validator non_negative = number_check(">= 0", [](double v) { return v >= 0 && std::isfinite(v); });
const CLI::Validator unit_interval = number_check("in [0, 1)", [](double v) { return v >= 0 && v < 1; });

}  // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{"Train the seed's sigmoid network on Fashion-MNIST (or MNIST) IDX files."};
    app.add_option("--data-dir", o.data_dir, "folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz")
        ->capture_default_str();
    app.add_option("--train-samples", o.train_samples, "first N training images (0 = all 60000)")->capture_default_str()->check(count);
    app.add_option("--test-samples", o.test_samples, "first N test images (0 = all 10000)")->capture_default_str()->check(count);
    app.add_option("--hidden", o.hidden, "hidden layer sizes, e.g. --hidden 256 128")->capture_default_str()->check(count);
    app.add_option("--learning-rate", o.sgd.learning_rate, "learning rate η")->capture_default_str()->check(positive);
    app.add_option("--iterations", o.sgd.iterations, "number of updates")->capture_default_str()->check(count);
    app.add_option("--batch-size", o.sgd.batch_size, "samples per update (0 = full batch)")->capture_default_str()->check(count);
    app.add_option("--momentum", o.sgd.momentum, "heavy-ball momentum μ in [0, 1)")
        ->capture_default_str()
        ->check(unit_interval);
    app.add_option("--lambda", o.sgd.lambda, "L2 regularisation λ (bias excluded)")->capture_default_str()->check(non_negative);
    app.add_option("--shuffle-seed", o.sgd.seed, "seed of the mini-batch shuffle")->capture_default_str()->check(count);
    app.add_option("--seed", o.weight_seed, "seed of the initial weights")->capture_default_str()->check(count);
    app.add_option("--precision", o.precision, "float or double")
        ->capture_default_str()
        ->check(CLI::IsMember({"float", "double"}));
    app.add_option("--threads", o.threads, "BLAS threads")->capture_default_str()->check(positive);
    app.add_option("--print-every", o.print_every, "print the cost every N iterations (0 = never)")->capture_default_str()->check(count);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "mnist_nn: %s\nRun with --help for usage.\n", e.what());
        return 2;
    }
    try {
        pnn::Cpu::set_threads(o.threads);
        return o.precision == "float" ? run<float>(o) : run<double>(o);
    } catch (const pnn::error& e) {
        std::fprintf(stderr, "mnist_nn: %s\n", e.what());
        return 1;
    }
}
