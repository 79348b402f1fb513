// defines: example::Options and example::train, what mnist_nn and mnist_nn_data_parallelism
// share: the command line, loading the IDX files, the training loop's report.
#pragma once
#include <CLI/CLI.hpp>
#include <csignal>
#include <signal.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <pnn/pnn.hpp>
#include <string>
#include <variant>
#include <vector>

namespace example {

struct Options {
    std::string data_dir = "/usr/share/datasets/fashion-mnist";
    std::size_t train_samples = 5000;
    std::size_t test_samples = 0;
    std::vector<std::size_t> hidden{25};
    std::vector<std::string> activations{"sigmoid"};  // one, or one per hidden layer
    std::string output = "sigmoid";
    pnn::Sgd sgd;                // --learning-rate, --iterations, ... (Adam takes the shared ones)
    std::string optimizer = "sgd";
    pnn::Adam adam;              // --beta1, --beta2, --epsilon, --weight-decay
    bool learning_rate_given = false;
    std::uint64_t weight_seed = 1;
    std::string precision = "double";
    int threads = 1;
    std::size_t print_every = 1;
    std::string device = "cpu";
    std::string data_file;     // a .mat dataset (X, y) instead of the IDX files (mnist_nn only)
    std::string weights_file;  // a .mat net (Theta1, Theta2, ...) to start from (mnist_nn only)
    bool zero_based = false;   // .mat labels are classes as they are, not the seed's 1..10
    std::string checkpoint;    // where checkpoints go (and --resume reads)
    std::string timeline;      // where the training's timeline goes (Chrome trace JSON)
    std::size_t checkpoint_every = 0;
    bool resume = false;
    std::optional<std::size_t> until_update;  // train until the trainer's step is this (fresh or resumed)
    std::size_t reproducible_block = 0;  // rows per block of the reproducible mode (0 = off)
};

// The signal that asked training to stop (SIGINT or SIGTERM), 0 while none has.
inline volatile std::sig_atomic_t stop_signal = 0;
extern "C" inline void note_stop_signal(int sig) { stop_signal = sig; }

// A command-line check with a message that says what was expected and what was found.
inline CLI::Validator number_check(const char* expected, bool (*ok)(double)) {
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
inline const CLI::Validator count(
    [](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        return digits ? std::string() : "expected a whole number >= 0, found '" + text + "'";
    },
    "COUNT");

inline void add_options(CLI::App& app, Options& o) {
    const auto positive = number_check("> 0", [](double v) { return v > 0 && std::isfinite(v); });
    const auto non_negative = number_check(">= 0", [](double v) { return v >= 0 && std::isfinite(v); });
    const auto unit_interval = number_check("in [0, 1)", [](double v) { return v >= 0 && v < 1; });
    app.add_option("--data-dir", o.data_dir, "folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz")
        ->capture_default_str();
    app.add_option("--train-samples", o.train_samples, "first N training images (0 = all 60000)")
        ->capture_default_str()
        ->check(count);
    app.add_option("--test-samples", o.test_samples, "first N test images (0 = all 10000)")
        ->capture_default_str()
        ->check(count);
    app.add_option("--hidden", o.hidden, "hidden layer sizes, e.g. --hidden 256 128")->capture_default_str()->check(count);
    app.add_option("--activation", o.activations, "hidden units: sigmoid, tanh or relu; one for every hidden layer, or one per layer")
        ->capture_default_str()
        ->check(CLI::IsMember({"sigmoid", "tanh", "relu"}));
    app.add_option("--output", o.output, "output layer: sigmoid (the seed's cost) or softmax (categorical cross-entropy)")
        ->capture_default_str()
        ->check(CLI::IsMember({"sigmoid", "softmax"}));
    app.add_option("--optimizer", o.optimizer, "sgd (gradient descent with momentum) or adam (Adam; AdamW with --weight-decay)")
        ->capture_default_str()
        ->check(CLI::IsMember({"sgd", "adam"}));
    app.add_option("--learning-rate", o.sgd.learning_rate, "learning rate η (default 2 for sgd, the seed's; 1e-3 for adam)")
        ->check(positive);
    app.add_option("--beta1", o.adam.beta1, "Adam's β1 in [0, 1)")->capture_default_str()->check(unit_interval);
    app.add_option("--beta2", o.adam.beta2, "Adam's β2 in [0, 1)")->capture_default_str()->check(unit_interval);
    app.add_option("--epsilon", o.adam.epsilon, "Adam's ε > 0")->capture_default_str()->check(positive);
    app.add_option("--weight-decay", o.adam.weight_decay, "AdamW's decoupled weight decay (bias excluded)")
        ->capture_default_str()
        ->check(non_negative);
    auto* iterations =
        app.add_option("--iterations", o.sgd.iterations, "number of updates")->capture_default_str()->check(count);
    app.add_option("--until-update", o.until_update,
                   "train until the update count is N, fresh or resumed (in place of --iterations): a command line that "
                   "means the same run however often it is restarted with --resume (pnn-launch)")
        ->check(count)
        ->excludes(iterations);
    app.add_option("--batch-size", o.sgd.batch_size, "samples per update (0 = full batch)")
        ->capture_default_str()
        ->check(count);
    app.add_option("--momentum", o.sgd.momentum, "heavy-ball momentum μ in [0, 1)")
        ->capture_default_str()
        ->check(unit_interval);
    app.add_option("--lambda", o.sgd.lambda, "L2 regularisation λ (bias excluded)")
        ->capture_default_str()
        ->check(non_negative);
    app.add_option("--shuffle-seed", o.sgd.seed, "seed of the mini-batch shuffle")->capture_default_str()->check(count);
    app.add_option("--reproducible-block", o.reproducible_block,
                   "rows per block of the reproducible mode (0 = off): the same weights, bit for bit, with mnist_nn and "
                   "on any number of ranks (full batch)")
        ->capture_default_str()
        ->check(count);
    app.add_option("--seed", o.weight_seed, "seed of the initial weights")->capture_default_str()->check(count);
    app.add_option("--precision", o.precision, "float or double")
        ->capture_default_str()
        ->check(CLI::IsMember({"float", "double"}));
    app.add_option("--threads", o.threads, "BLAS threads (per rank)")->capture_default_str()->check(positive);
    app.add_option("--print-every", o.print_every, "print the cost every N iterations (0 = never)")
        ->capture_default_str()
        ->check(count);
    auto* checkpoint = app.add_option("--checkpoint", o.checkpoint,
                                      "save a checkpoint to this file every --checkpoint-every updates, at the end, and "
                                      "when SIGINT or SIGTERM stops training");
    app.add_option("--checkpoint-every", o.checkpoint_every, "updates between checkpoints (0 = at the end and on a signal only)")
        ->capture_default_str()
        ->check(count)
        ->needs(checkpoint);
    app.add_flag("--resume", o.resume,
                 "continue from --checkpoint: its weights, optimizer state and settings; --iterations then counts the "
                 "updates still to run")
        ->needs(checkpoint);
    app.add_option("--timeline", o.timeline,
                   "write every stage of every step on every rank to this file as Chrome trace JSON (open it in "
                   "ui.perfetto.dev or chrome://tracing); times the stages as the table does");
#if defined(__CUDACC__)
    app.add_option("--device", o.device, "cpu, or cuda (one GPU per rank: the local rank's)")
        ->capture_default_str()
        ->check(CLI::IsMember({"cpu", "cuda"}));
#else
    app.add_option("--device", o.device, "cpu (cuda in the programs built with nvcc: *_cuda)")
        ->capture_default_str()
        ->check(CLI::IsMember({"cpu"}));
#endif
}

// Parses; returns -1 to go on, else the exit status (0 after --help, 2 after a usage error).
inline int parse(CLI::App& app, Options& o, int argc, char** argv, const char* program, bool speak) {
    auto usage = [&](const std::string& what) {
        if (speak) std::fprintf(stderr, "%s: %s\nRun with --help for usage.\n", program, what.c_str());
        return 2;
    };
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return speak ? app.exit(e) : 0;
    } catch (const CLI::ParseError& e) {
        return usage(e.what());
    }
    o.learning_rate_given = app.count("--learning-rate") > 0;
    if (o.optimizer == "sgd")
        for (const char* flag : {"--beta1", "--beta2", "--epsilon", "--weight-decay"})
            if (app.count(flag) > 0) return usage(std::string(flag) + ": expected only with --optimizer adam");
    if (o.optimizer == "adam" && app.count("--momentum") > 0) return usage("--momentum: expected only with --optimizer sgd");
    if (o.activations.size() != 1 && o.activations.size() != o.hidden.size())
        return usage("--activation: expected 1 activation (for every hidden layer) or " + std::to_string(o.hidden.size()) +
                     " (one per --hidden layer), found " + std::to_string(o.activations.size()));
    return -1;
}

// The optimizer the command line asks for: Sgd, or Adam with the shared settings.
inline pnn::Optimizer optimizer_of(const Options& o) {
    if (o.optimizer == "sgd") return o.sgd;
    pnn::Adam a = o.adam;
    a.learning_rate = o.learning_rate_given ? o.sgd.learning_rate : 1e-3;
    a.iterations = o.sgd.iterations;
    a.batch_size = o.sgd.batch_size;
    a.lambda = o.sgd.lambda;
    a.seed = o.sgd.seed;
    return a;
}

// What both kinds of settings have, for the report.
struct Shared {
    double learning_rate, lambda;
    std::size_t iterations, batch_size;
    std::uint64_t seed;
};
inline Shared shared_of(const pnn::Optimizer& opt) {
    return std::visit([](const auto& s) { return Shared{s.learning_rate, s.lambda, s.iterations, s.batch_size, s.seed}; }, opt);
}

// The optimizer's own settings, in words.
inline std::string describe(const pnn::Optimizer& opt) {
    char text[200];
    if (const auto* s = std::get_if<pnn::Sgd>(&opt))
        std::snprintf(text, sizeof text, "sgd, momentum %g", s->momentum);
    else {
        const auto& a = std::get<pnn::Adam>(opt);
        std::snprintf(text, sizeof text, "adam, beta1 %g, beta2 %g, epsilon %g, weight decay %g", a.beta1, a.beta2, a.epsilon,
                      a.weight_decay);
    }
    return text;
}

// The units --activation and --output name.
inline std::vector<pnn::Activation> activations_of(const Options& o) {
    std::vector<pnn::Activation> units;
    for (const std::string& name : o.activations) units.push_back(pnn::activation_named(name, "--activation"));
    return units;
}

// The IDX files of one split ("train" or "t10k") under the data folder.
inline std::string images_of(const Options& o, const std::string& split) {
    return o.data_dir + "/" + split + "-images-idx3-ubyte.gz";
}
inline std::string labels_of(const Options& o, const std::string& split) {
    return o.data_dir + "/" + split + "-labels-idx1-ubyte.gz";
}

// Trains with any communicator on any device; load(split, n) gives this rank's rows of the first
// n samples (0 = all). Only the rank that speaks prints.
template <class T, class C, class Load, class D>
int train_on(const Options& o, C comm, Load&& load, D device) {
    using clock = std::chrono::steady_clock;
    const bool speak = comm.rank() == 0;
    // which of pnn's CPU kernel levels runs (PNN_CPU=generic|avx2|avx512 chooses one)
    const std::string_view kernels = pnn::cpu_kernels();
    if (speak) std::printf("CPU kernels: %.*s\n", int(kernels.size()), kernels.data());
    const pnn::Dataset<T> train_set = load(std::string("train"), o.train_samples);
    const pnn::Dataset<T> test_set = load(std::string("t10k"), o.test_samples);

    // The net: from a .mat file, or new with the input width from the IDX header (one test
    // image: a rank may hold no rows), the hidden layers asked for and 10 outputs.
    pnn::Mlp<T> net = [&] {
#if PNN_WITH_MATIO
        if (!o.weights_file.empty()) return pnn::load_mat_net<T>(o.weights_file);
#endif
        std::vector<std::size_t> sizes{o.data_file.empty() ? pnn::load_idx_images<T>(images_of(o, "t10k"), {0, 1}).shape(1)
                                                           : train_set.features()};
        sizes.insert(sizes.end(), o.hidden.begin(), o.hidden.end());
        sizes.push_back(10);
        return pnn::Mlp<T>(sizes, o.weight_seed, activations_of(o), pnn::output_named(o.output, "--output"));
    }();
    const std::vector<std::size_t> sizes = net.sizes();
    pnn::Trainer<pnn::Mlp<T>, D, C> trainer(std::move(net), comm, std::move(device));
    trainer.record_stages(true);
    // before any training: a run must not learn at its end that its work cannot be saved
    if (!o.checkpoint.empty()) trainer.check_writable(o.checkpoint);
    if (!o.timeline.empty()) {
        trainer.check_writable(o.timeline);
        trainer.record_timeline(true);
    }
    pnn::Optimizer opt = optimizer_of(o);
    if (o.resume) {  // the checkpoint's settings go on; --iterations counts what is still to run
        opt = trainer.load_checkpoint(o.checkpoint);
        std::visit([&](auto& s) { s.iterations = o.sgd.iterations; }, opt);
        const Shared c = shared_of(opt);
        if (speak)
            std::printf("resuming from %s after update %zu (%s, learning rate %g, lambda %g, batch size %zu, "
                        "shuffle seed %llu)\n",
                        o.checkpoint.c_str(), trainer.step(), describe(opt).c_str(), c.learning_rate, c.lambda, c.batch_size,
                        static_cast<unsigned long long>(c.seed));
    }
    if (o.until_update) {  // the updates still to run
        if (trainer.step() > *o.until_update) {
            if (speak)
                std::fprintf(stderr, "--until-update %zu: %s is at update %zu, past it\n", *o.until_update,
                             o.checkpoint.c_str(), trainer.step());
            return 2;
        }
        std::visit([&](auto& s) { s.iterations = *o.until_update - trainer.step(); }, opt);
    }
    const Shared plan = shared_of(opt);  // what either kind's settings say of the run
    const std::size_t first_step = trainer.step();
    if (!o.checkpoint.empty()) {  // Ctrl-C or a job's end: finish the update, save, stop
        // Without SA_RESTART: a write to stdout blocked on a full pipe returns (EINTR) when the
        // signal comes. mpirun stops reading the ranks' output once it is signalled, and rank 0,
        // printing progress, then blocked forever while the other ranks waited for it in the
        // next sum: no checkpoint, until mpirun's SIGKILL (seen with --print-every 10 at 10,000
        // updates a second).
        struct sigaction on_stop{};
        on_stop.sa_handler = note_stop_signal;
        sigemptyset(&on_stop.sa_mask);
        on_stop.sa_flags = 0;
        sigaction(SIGINT, &on_stop, nullptr);
        sigaction(SIGTERM, &on_stop, nullptr);
    }

    std::size_t train_total = train_set.size(), test_total = test_set.size();
    comm.sum(&train_total, 1);
    comm.sum(&test_total, 1);
    const std::string shape = pnn::sizes_text(sizes);
    const std::string batch = plan.batch_size ? "batch size " + std::to_string(plan.batch_size) : "full batch";
    const std::string hidden = pnn::names_of(trainer.net().activations());
    const std::string units = (hidden.empty() ? "" : hidden + " hidden units, ") + std::string(pnn::name_of(trainer.net().output())) + " output";
    if (speak)
        std::printf("net %s (%s, %s), %zu training and %zu test samples, %s, %s, learning rate %g, %zu iterations%s\n",
                    shape.c_str(), units.c_str(), o.precision.c_str(), train_total, test_total, batch.c_str(), describe(opt).c_str(), plan.learning_rate,
                    plan.iterations, comm.size() > 1 ? (", " + std::to_string(comm.size()) + " ranks").c_str() : "");

    if (!o.weights_file.empty()) {  // the seed's course first evaluates the given weights
        const double cost = trainer.cost(train_set, plan.lambda), accuracy = trainer.accuracy(train_set);
        if (speak) std::printf("Cost at given weights: %.6f\nTraining set accuracy at given weights: %.2f%%\n", cost, 100 * accuracy);
        if (plan.iterations == 0) return 0;
    }

    pnn::Progress progress(plan.iterations, "training", speak && ::isatty(STDERR_FILENO));
    std::vector<double> seconds;  // per iteration, for the median
    seconds.reserve(std::min<std::size_t>(plan.iterations, 1 << 20));
    auto last = clock::now();
    const auto start = last;
    std::size_t done = 0, stopped_by = 0;
    trainer.fit(train_set, opt, [&](std::size_t i, double cost) {
        const auto now = clock::now();
        seconds.push_back(std::chrono::duration<double>(now - last).count());
        last = now;
        done = i;
        if (speak && o.print_every && (i % o.print_every == 0 || i == plan.iterations) && stop_signal == 0)
            progress.print("iteration %zu, cost %.6f\n", i, cost);
        progress.update(i, cost);
        if (o.checkpoint.empty()) return true;
        // A signal may reach some ranks only: every rank stops after the same update.
        std::size_t signal = std::size_t(stop_signal);
        if (comm.size() > 1) comm.sum(&signal, 1);
        if (signal != 0) {
            stopped_by = signal == SIGINT || signal == SIGTERM ? signal : SIGTERM;
            return false;
        }
        // at every multiple of --checkpoint-every of the update count, resumed or not
        if (o.checkpoint_every && (first_step + i) % o.checkpoint_every == 0 && i < plan.iterations)
            trainer.save_checkpoint(o.checkpoint);
        return true;
    });
    const double total = std::chrono::duration<double>(clock::now() - start).count();
    progress.finish();
    if (!o.checkpoint.empty()) trainer.save_checkpoint(o.checkpoint);
    if (!o.timeline.empty()) {
        trainer.write_timeline(o.timeline);
        if (speak) std::printf("timeline of %zu events on rank 0 written to %s\n", trainer.timeline().events().size(), o.timeline.c_str());
    }
    if (stopped_by != 0) {
        const std::string go_on = o.until_update ? std::string(o.resume ? "" : " with --resume")
                                                 : " with --resume --iterations " + std::to_string(plan.iterations - done);
        if (speak)
            std::fprintf(stderr, "stopped by %s after %zu of %zu iterations (update %zu); saved %s. To go on, run the same command%s\n",
                         stopped_by == SIGINT ? "SIGINT" : "SIGTERM", done, plan.iterations, trainer.step(), o.checkpoint.c_str(),
                         go_on.c_str());
        return 128 + int(stopped_by);
    }

    const double train_accuracy = trainer.accuracy(train_set);
    const double test_accuracy = test_total > 0 ? trainer.accuracy(test_set) : 0;  // a .mat file has no test set
    if (speak) {
        if (test_total > 0)
            std::printf("train accuracy %.2f%%, test accuracy %.2f%%\n", 100 * train_accuracy, 100 * test_accuracy);
        else
            std::printf("train accuracy %.2f%%\n", 100 * train_accuracy);
        if (!seconds.empty()) {
            std::sort(seconds.begin(), seconds.end());
            std::printf("time per iteration: %.3f ms median, %.3f ms mean (%zu iterations, %.2f s)\n",
                        1e3 * seconds[seconds.size() / 2], 1e3 * total / double(seconds.size()), seconds.size(),
                        total);
        }
        for (bool mini_batches : {false, true})
            if (const pnn::OverlapChoice& c = trainer.overlap_choice(mini_batches); c.decided)
                std::printf("gradient's sum: %s (trial steps' best, summed over ranks: %.3f ms blocked, %.3f ms overlapped)\n",
                            c.overlap ? "overlapped with backprop" : "after backprop (blocked order)",
                            1e3 * c.blocked_seconds, 1e3 * c.overlapped_seconds);
        std::printf("where the time went (rank 0):\n%s", trainer.stages().table().c_str());
    }
    return 0;
}

// The device --device names: Cpu, or (built with nvcc) the GPU of this rank's local rank, as
// the launcher that started it (mpirun or srun) numbers the ranks of each host.
#if defined(__CUDACC__)
inline pnn::Cuda local_gpu() {
    const int local = pnn::local_rank().value_or(-1);
    const int count = pnn::Cuda::device_count();
    return pnn::Cuda(local >= 0 && count > 0 ? local % count : -1);
}
#endif

template <class T, class C, class Load>
int train(const Options& o, C comm, Load&& load) {
#if defined(__CUDACC__)
    if (o.device == "cuda") return train_on<T>(o, comm, load, local_gpu());
#endif
    return train_on<T>(o, comm, load, pnn::Cpu{});
}

}  // namespace example
