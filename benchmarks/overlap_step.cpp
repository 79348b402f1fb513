// overlap_step: one data-parallel step of a net whose gradient is worth overlapping (784-1024-
// 1024-10 float32 by default: 1.86 M parameters, a 7.4 MB gradient), 2 or more ranks under
// mpirun, each with its own rows. In one run, interleaved round by round, every rank at once:
//   on          ms per step of fit with the gradient's sums overlapped, every step
//               (MpiOptions::overlap, overlap_trial off)
//   off         the same step with overlap off (one sum after backprop)
//   auto        the default: overlap on, with the trial steps that keep the faster order
//               (made in the warm-up fit); auto_overlaps says which it kept
//   uneven      the default with MpiOptions::even_batch_shares off: with mini-batches, each
//               rank computes the rows of a batch it holds rather than an even share
//   forward     ms of the forward pass alone over a rank's rows (Trainer<Local>::cost)
//   fwd_bwd     ms of forward and backward alone (Trainer<Local>::gradient)
//   allreduce   ms of one bare MPI_Allreduce of the gradient's bytes on MPI_COMM_WORLD
//   alone       ms per step of the same fit by a Trainer<Local> on the rank's rows with the
//               rank's share of the batch (B / ranks rows a step), every rank at once, the
//               slowest counting: the no-communication limit of the data-parallel step
// Rank 0 prints one JSON object a round. The overlap limit of a round is
// forward + max(fwd_bwd - forward, allreduce): the sums can hide behind backward at best.
// Interleaved in one run, in the same processes, the data-parallel step and its
// no-communication limit see the same state of a noisy host; apart (benchmarks/modern_vs_torch.py
// runs two Local processes after the mpirun), the limit moved 1.06-2.15 ms between rounds.
//
//   mpirun -np 2 overlap_step [--rows R] [--hidden H1,H2,...] [--rounds N] [--steps S]
//                             [--bucket-bytes B] [--batch B] [--modern 0|1] [--data-dir DIR]
//                             [--stages 0|1] [--whole 0|1]
//
// --batch B: mini-batches of B rows a step over all ranks (0: every rank's rows, full batch);
// --modern 1: ReLU hidden units, a softmax output and AdamW (lr 1e-3, weight decay 0.01), issue
// 12's net, instead of sigmoid units and Sgd; --data-dir: Fashion-MNIST's training images (rows
// R * ranks of them) instead of synthetic rows; --whole 1: every rank holds every row (the
// data-parallel trainers take even shares of each batch's positions; else each holds its own);
// --stages 1: each path's stage table after the rounds.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench.hpp"

namespace {

using T = float;
using Clock = std::chrono::steady_clock;

// ms per repetition of f, every rank starting together (the slowest rank's time counts: the
// barrier at the end waits for it).
template <class F>
double timed(int repetitions, F&& f) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = Clock::now();
    for (int i = 0; i < repetitions; ++i) f();
    MPI_Barrier(MPI_COMM_WORLD);
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / repetitions;
}

std::vector<std::size_t> parse_sizes(const std::string& text) {
    std::vector<std::size_t> out;
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t comma = std::min(text.find(',', at), text.size());
        out.push_back(std::stoul(text.substr(at, comma - at)));
        at = comma + 1;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    pnn::MpiSession session(&argc, &argv);
    std::size_t rows = 1536, bucket = 0, batch = 0;
    int rounds = 5, steps = 5;
    bool modern = false, stages = false, whole = false;
    std::string hidden = "1024,1024", data_dir;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--rows") rows = std::stoul(v);
        else if (a == "--hidden") hidden = v;
        else if (a == "--rounds") rounds = std::stoi(v);
        else if (a == "--steps") steps = std::stoi(v);
        else if (a == "--bucket-bytes") bucket = std::stoul(v);
        else if (a == "--batch") batch = std::stoul(v);
        else if (a == "--modern") modern = v == "1";
        else if (a == "--data-dir") data_dir = v;
        else if (a == "--stages") stages = v == "1";
        else if (a == "--whole") whole = v == "1";
        else {
            std::fprintf(stderr, "overlap_step: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    pnn::Cpu::set_threads(1);
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    std::vector<std::size_t> sizes{784};
    for (std::size_t h : parse_sizes(hidden)) sizes.push_back(h);
    sizes.push_back(10);
    const pnn::Mlp<T> net = modern ? pnn::Mlp<T>(sizes, 1, pnn::Activation::relu, pnn::Output::softmax) : pnn::Mlp<T>(sizes, 1);
    const std::size_t p = net.parameter_count();
    if (batch % std::size_t(ranks) != 0 || batch / std::size_t(ranks) > rows) {
        std::fprintf(stderr, "overlap_step: --batch %zu: expected a multiple of the %d ranks of at most %zu rows each\n",
                     batch, ranks, rows);
        return 2;
    }
    // this rank's own rows (different on every rank), passed as a shard
    const pnn::Dataset<T> all = bench::workload<T>(data_dir, rows * std::size_t(ranks), 784);
    const pnn::Dataset<T> mine = all.slice(rows * std::size_t(rank), rows * std::size_t(rank + 1));
    // what the data-parallel trainers get: every rank its own rows, or (--whole 1) every row
    const pnn::Dataset<T>& theirs = whole ? all : mine;
    // the rows of one step on this rank, for the forward and backward passes timed alone
    const pnn::Dataset<T> step_rows = batch ? mine.slice(0, batch / std::size_t(ranks)) : mine;
    auto trainer = [&](bool overlap, bool trial, bool even = true) {
        pnn::MpiOptions o;
        o.placement = whole ? pnn::Placement::automatic : pnn::Placement::sharded;
        o.overlap = overlap;
        o.overlap_trial = trial;
        o.bucket_bytes = bucket;
        o.even_batch_shares = even;
        return std::make_unique<pnn::Trainer<pnn::Mlp<T>, pnn::Cpu, pnn::Mpi>>(net, pnn::Mpi(MPI_COMM_WORLD, o));
    };
    auto on = trainer(true, false), off = trainer(false, false), automatic = trainer(true, true),
         uneven = trainer(true, true, false);
    pnn::Trainer<pnn::Mlp<T>, pnn::Cpu, pnn::Local> alone(net);
    // the fit's settings, over all ranks' batch (optimizer) or a rank's share of it (share)
    pnn::Adam adam;
    adam.weight_decay = 0.01;
    pnn::Sgd sgd;
    sgd.learning_rate = 0.01;
    auto settings = [&](auto o, std::size_t rows_a_step) {
        o.iterations = std::size_t(steps);
        o.batch_size = rows_a_step;
        return pnn::Optimizer(o);
    };
    const std::size_t own = batch / std::size_t(ranks);
    const pnn::Optimizer optimizer = modern ? settings(adam, batch) : settings(sgd, batch);
    const pnn::Optimizer share = modern ? settings(adam, own) : settings(sgd, own);
    std::vector<T> gradient(p, T(1));
    auto allreduce = [&] { MPI_Allreduce(MPI_IN_PLACE, gradient.data(), int(p), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); };
    // warm-up: every path once
    on->fit(theirs, optimizer);
    off->fit(theirs, optimizer);
    automatic->fit(theirs, optimizer);  // its trial steps (iterations >= 4) decide
    uneven->fit(theirs, optimizer);
    alone.fit(mine, share);
    (void)alone.gradient(step_rows);
    allreduce();
    if (rank == 0)
        std::printf("{\"net\": \"%s\", \"ranks\": %d, \"rows_per_rank\": %zu, \"parameters\": %zu, \"bucket_bytes\": %zu}\n",
                    pnn::sizes_text(sizes).c_str(), ranks, rows, p,
                    bucket ? bucket : pnn::MpiOptions::default_bucket_bytes);
    for (int round = 0; round < rounds; ++round) {
        const double t_on = timed(1, [&] { on->fit(theirs, optimizer); }) / steps;
        const double t_off = timed(1, [&] { off->fit(theirs, optimizer); }) / steps;
        const double t_auto = timed(1, [&] { automatic->fit(theirs, optimizer); }) / steps;
        const double t_uneven = timed(1, [&] { uneven->fit(theirs, optimizer); }) / steps;
        const double t_alone = timed(1, [&] { alone.fit(mine, share); }) / steps;
        const double t_forward = timed(steps, [&] { (void)alone.cost(step_rows); });
        const double t_fwd_bwd = timed(steps, [&] { (void)alone.gradient(step_rows); });
        const double t_allreduce = timed(steps, allreduce);
        if (rank == 0)
            std::printf("{\"round\": %d, \"on\": %.3f, \"off\": %.3f, \"auto\": %.3f, \"auto_overlaps\": %s, "
                        "\"uneven\": %.3f, \"alone\": %.3f, \"forward\": %.3f, \"fwd_bwd\": %.3f, \"allreduce\": %.3f}\n",
                        round, t_on, t_off, t_auto, automatic->overlap_choice(batch > 0).overlap ? "true" : "false", t_uneven, t_alone,
                        t_forward, t_fwd_bwd, t_allreduce);
        std::fflush(stdout);
    }
    if (stages) {  // where a step goes, rank 0: on each data-parallel path and alone
        auto table = [&](const char* name, auto& t, const pnn::Dataset<T>& d, const pnn::Optimizer& o) {
            t.reset_stages();
            t.record_stages(true);
            (void)timed(1, [&] { t.fit(d, o); });
            t.record_stages(false);
            if (rank == 0) std::printf("stages, %s (rank 0):\n%s", name, t.stages().table().c_str());
        };
        table("on", *on, theirs, optimizer);
        table("off", *off, theirs, optimizer);
        table("auto", *automatic, theirs, optimizer);
        table("uneven", *uneven, theirs, optimizer);
        table("alone", alone, mine, share);
    }
    return 0;
}
