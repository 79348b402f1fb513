// Tests of pnn::Mpi, run through mpirun on 1, 2, 3 and 4 ranks: every rank trains with Mpi and,
// alone, with Local on the same data, and checks that both give the same model.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <numeric>
#include <optional>
#include <random>
#include <pnn/comm/local_rank.hpp>
#include <pnn/comm/mpi.hpp>

#include "support.hpp"

namespace {

using pnn::Mpi;
template <class C>
using Trainer = pnn::Trainer<pnn::Mlp<double>, pnn::Cpu, C>;

int world_rank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}
int world_size() {
    int s = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

// Whether every rank runs on one host: the same host name (MPI_Get_processor_name) everywhere.
bool one_host() {
    char name[MPI_MAX_PROCESSOR_NAME] = {}, first[MPI_MAX_PROCESSOR_NAME] = {};
    int length = 0;
    MPI_Get_processor_name(name, &length);
    std::copy(std::begin(name), std::end(name), std::begin(first));
    MPI_Bcast(first, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD);
    int same = std::string(name) == first, all = 0;
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all == 1;
}

// A new folder that rank 0 makes under /tmp, its path known to every rank.
std::string shared_folder(const char* prefix) {
    std::string pattern = std::string("/tmp/") + prefix + "-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    std::uint64_t made = 0;
    if (world_rank() == 0) made = ::mkdtemp(name.data()) != nullptr;
    MPI_Bcast(name.data(), int(name.size()), MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(&made, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    REQUIRE(made == 1);
    return name.data();
}

// 1001 samples: no rank count from 2 to 4 divides it, so the shares are uneven.
const pnn::Dataset<double> data = test::blobs<double>(1001, 12, 4, 7);
const pnn::Mlp<double> initial({12, 10, 6, 4}, 3);

pnn::Sgd settings(std::size_t batch) { return test::sgd_settings(batch, 30, 9); }

// What each rank passes for a placement: everything, rank 0 alone, or its own rows.
pnn::Dataset<double> as_passed(pnn::Placement placement, const char* how, const Mpi& comm) {
    if (placement == pnn::Placement::sharded)
        return data.slice(comm.first_row(data.size(), comm.rank()), comm.first_row(data.size(), comm.rank() + 1));
    if (std::string(how) == "root") return comm.rank() == 0 ? data : pnn::Dataset<double>();
    return data;
}

}  // namespace

TEST_CASE("Mpi trains the same model as Local: placements, reductions, full batch and mini-batch") {
    for (std::size_t batch : {std::size_t(0), std::size_t(128)}) {
        Trainer<pnn::Local> local(initial);
        const auto local_history = local.fit(data, settings(batch));
        for (auto reduction : {pnn::Reduction::allreduce, pnn::Reduction::gather_bcast})
            for (auto [placement, how] : {std::pair{pnn::Placement::automatic, "every rank"},
                                          std::pair{pnn::Placement::automatic, "root"},
                                          std::pair{pnn::Placement::sharded, "own rows"}})
            for (bool node_sum : {true, false}) {
                CAPTURE(batch);
                CAPTURE(int(reduction));
                const char* how_named = how;  // (a copy: clang 14 captures no structured binding)
                CAPTURE(how_named);
                CAPTURE(node_sum);
                Mpi::Options options{reduction, placement};
                options.node_sum = node_sum;  // the sum through this node's shared memory, or MPI_Allreduce
                Mpi comm(MPI_COMM_WORLD, options);
                // with node_sum, the shared memory is used where every rank runs on one host (not
                // in multihost_test's and slurm_test's runs of this test) and /dev/shm can be
                // mapped (containers without it fall back)
                if (::access("/dev/shm", W_OK) == 0)
                    CHECK(comm.sums_through_node_memory() == (node_sum && world_size() > 1 && one_host()));
                const auto passed = as_passed(placement, how, comm);
                Trainer<Mpi> mpi(initial, comm);
                const auto history = mpi.fit(passed, settings(batch));
                CHECK(test::relative_difference(mpi.net(), local.net()) <= 1e-12);
                REQUIRE(history.size() == local_history.size());
                for (std::size_t i = 0; i < history.size(); ++i)
                    CHECK(history[i] == doctest::Approx(local_history[i]).epsilon(1e-12));
                // collective evaluations return the global value on every rank
                CHECK(mpi.cost(passed, 0.1) == doctest::Approx(local.cost(data, 0.1)).epsilon(1e-12));
                CHECK(mpi.accuracy(passed) == local.accuracy(data));
                const auto g = mpi.gradient(passed, 0.1), gl = local.gradient(data, 0.1);
                for (std::size_t l = 0; l < g.size(); ++l) CHECK(xt::allclose(g[l], gl[l], 1e-11, 1e-14));
            }
    }
}

TEST_CASE("mini-batch rows: every rank computes an even share of each batch, whether it holds every row or its own") {
    const std::size_t batch = 128, iterations = 30;
    const pnn::Sgd opt = settings(batch);
    REQUIRE(opt.iterations == iterations);
    // the batches' sizes: 7 of 128 and one of the remaining 105 an epoch (1001 rows)
    std::vector<std::size_t> sizes;
    for (std::size_t i = 0; i < iterations; ++i) {
        const std::size_t t = i % ((data.size() + batch - 1) / batch);
        sizes.push_back(std::min(data.size(), (t + 1) * batch) - t * batch);
    }
    std::uint64_t share = 0;
    for (std::size_t n : sizes)
        share += pnn::even_split(n, std::size_t(world_size()), std::size_t(world_rank()) + 1) -
                 pnn::even_split(n, std::size_t(world_size()), std::size_t(world_rank()));
    for (auto [placement, how] : {std::pair{pnn::Placement::automatic, "every rank"},
                                  std::pair{pnn::Placement::automatic, "root"},
                                  std::pair{pnn::Placement::sharded, "own rows"}})
        for (bool overlap : {false, true})
            for (bool even : {true, false}) {
                const char* how_named = how;
                CAPTURE(how_named);
                CAPTURE(overlap);
                CAPTURE(even);
                Mpi::Options options{pnn::Reduction::allreduce, placement};
                options.overlap = overlap;
                options.overlap_trial = false;
                options.bucket_bytes = 256;
                options.even_batch_shares = even;
                Mpi comm(MPI_COMM_WORLD, options);
                Trainer<Mpi> mpi(initial, comm);
                mpi.record_stages(true);
                mpi.fit(as_passed(placement, how, comm), opt);
                const std::uint64_t rows = mpi.stages().rows;
                std::uint64_t all = 0, fewest = 0, most = 0;
                MPI_Allreduce(&rows, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
                MPI_Allreduce(&rows, &fewest, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
                MPI_Allreduce(&rows, &most, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
                CHECK(all == std::accumulate(sizes.begin(), sizes.end(), std::uint64_t(0)));  // every row once
                // a rank holding every row takes an even share of the batch's positions; ranks
                // holding shards move rows to even shares, unless asked not to: then each
                // computes the rows it holds, which 30 random batches spread unevenly
                if (std::string(how) == "every rank" || even) CHECK(rows == share);
                else if (world_size() > 1) CHECK(most > fewest);
                // the same model, whoever computes a row
                Trainer<pnn::Local> local(initial);
                local.fit(data, opt);
                CHECK(test::relative_difference(mpi.net(), local.net()) <= 1e-12);
            }
}

TEST_CASE("the plan of even shares: each rank keeps, sends and receives what makes its share, both ends agree") {
    std::mt19937_64 rng(5);
    for (std::size_t ranks : {1, 2, 3, 4, 7}) {
        for (int trial = 0; trial < 200; ++trial) {
            std::vector<std::size_t> held(ranks);
            for (std::size_t& h : held) h = rng() % (trial % 3 == 0 ? 3 : 40);  // some ranks with none
            const std::size_t n = std::accumulate(held.begin(), held.end(), std::size_t(0));
            std::vector<pnn::detail::SharePlan> plans(ranks);
            for (std::size_t q = 0; q < ranks; ++q) pnn::detail::plan_shares(held, q, plans[q]);
            for (std::size_t q = 0; q < ranks; ++q) {
                const auto& p = plans[q];
                const std::size_t share = pnn::even_split(n, ranks, q + 1) - pnn::even_split(n, ranks, q);
                std::size_t sent = 0, received = 0;
                for (const auto& m : p.sends) sent += m.rows;
                for (const auto& m : p.receives) received += m.rows;
                CHECK(p.keep + sent == held[q]);        // every row it holds: kept or sent
                CHECK(p.keep + received == share);      // it computes its share
                CHECK(received == p.received);
                CHECK((sent == 0 || received == 0));    // a rank only sends or only receives
                // each of its sends is a receive of its peer's, in the same order among that pair's moves
                for (const auto& m : p.sends) {
                    std::size_t mine = 0, theirs = 0;
                    for (const auto& o : p.sends) mine += o.peer == m.peer;
                    for (const auto& o : plans[std::size_t(m.peer)].receives) theirs += o.peer == int(q);
                    CHECK(mine == theirs);
                    bool found = false;
                    for (const auto& o : plans[std::size_t(m.peer)].receives) found = found || (o.peer == int(q) && o.rows == m.rows);
                    CHECK(found);
                }
            }
        }
    }
}

TEST_CASE("the gradient's sum by parts: each rank's part summed, the parts tile it, share_parts gives every rank all") {
    const int size = world_size(), rank = world_rank();
    for (bool node_sum : {true, false})
        for (std::size_t n : {std::size_t(7), std::size_t(1000), std::size_t(4099)}) {
            CAPTURE(node_sum);
            CAPTURE(n);
            Mpi::Options options;
            options.node_sum = node_sum;
            const Mpi comm(MPI_COMM_WORLD, options);
            // small integers: every order of summing gives the same bits
            auto value = [](std::size_t i, int r) { return double(i % 13) + 100.0 * (r + 1); };
            std::vector<double> g(n + 1);
            for (std::size_t i = 0; i < n; ++i) g[i] = value(i, rank);
            double cost = rank + 1;
            const auto part = comm.reduce_gradient_part(g.data(), n, cost);
            const auto [lo, hi] = part.value_or(std::pair<std::size_t, std::size_t>{0, n});
            CHECK(cost == size * (size + 1) / 2.0);
            for (std::size_t i = lo; i < hi; ++i) {
                double sum = 0;
                for (int r = 0; r < size; ++r) sum += value(i, r);
                REQUIRE(g[i] == sum);
            }
            // sharded where the sum goes through this node's memory; else the whole sum
            const bool sharded = comm.sums_through_node_memory();
            CHECK(sharded == (node_sum && size > 1 && one_host() && ::access("/dev/shm", W_OK) == 0));
            CHECK(part.has_value() == sharded);  // on every rank, whatever its part
            std::vector<unsigned long long> parts(2 * std::size_t(size)), mine{lo, hi};
            MPI_Allgather(mine.data(), 2, MPI_UNSIGNED_LONG_LONG, parts.data(), 2, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
            if (sharded) {
                CHECK(parts.front() == 0);
                CHECK(parts.back() == n);
                for (int r = 1; r < size; ++r) CHECK(parts[2 * r] == parts[2 * r - 1]);  // each starts where the last ended
            } else {
                CHECK(lo == 0);
                CHECK(hi == n);
            }
            // share_parts: each rank's part (the node sum's split, whether or not it sums
            // through the node's memory) reaches every rank, the rest of p overwritten
            std::vector<double> p(n, -1.0);
            const std::size_t a = pnn::detail::NodeSum::part(n, size, rank), b = pnn::detail::NodeSum::part(n, size, rank + 1);
            for (std::size_t i = a; i < b; ++i) p[i] = value(i, rank);
            comm.share_parts(p.data(), n);
            for (int r = 0; r < size; ++r)
                for (std::size_t i = pnn::detail::NodeSum::part(n, size, r); i < pnn::detail::NodeSum::part(n, size, r + 1); ++i)
                    REQUIRE(p[i] == value(i, r));
        }
}

TEST_CASE("a sharded update: each rank updates its part, with the bits and checkpoints of an update made whole everywhere") {
    const std::string name = shared_folder("pnn-mpi-shard");
    const pnn::Mlp<double> relu_net({12, 10, 6, 4}, 3, pnn::Activation::relu, pnn::Output::softmax);
    auto bytes_of = [](const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        return std::vector<char>(std::istreambuf_iterator<char>(in), {});
    };
    for (bool adam : {false, true})
        for (std::size_t batch : {std::size_t(0), std::size_t(128)}) {
            CAPTURE(adam);
            CAPTURE(batch);
            pnn::Sgd sgd = settings(batch);
            sgd.momentum = 0.9;  // a state to shard
            const pnn::Optimizer opt = adam ? pnn::Optimizer(test::adam_settings(batch, 20, 9, 0.05, 0.01)) : pnn::Optimizer(sgd);
            Mpi::Options sharded, whole;
            sharded.overlap = whole.overlap = false;  // the blocked order, every step
            whole.sharded_update = false;
            Trainer<Mpi> a(relu_net, Mpi(MPI_COMM_WORLD, sharded)), b(relu_net, Mpi(MPI_COMM_WORLD, whole));
            const auto sharded_history = a.fit(data, opt);
            CHECK(sharded_history == b.fit(data, opt));
            CHECK(a.net() == b.net());
            // the state saved whole: the same file, byte for byte; and training goes on alike
            a.save_checkpoint(name + "/a.ckpt");
            b.save_checkpoint(name + "/b.ckpt");
            if (world_rank() == 0) {
                CHECK(bytes_of(name + "/a.ckpt") == bytes_of(name + "/b.ckpt"));
                CHECK(!bytes_of(name + "/a.ckpt").empty());
            }
            const auto sharded_more = a.fit(data, opt);
            CHECK(sharded_more == b.fit(data, opt));
            CHECK(a.net() == b.net());
            // steps that sum the whole gradient (the overlapped order's trial steps, which
            // alternate with blocked ones) first gather the sharded state: Local's model
            Trainer<pnn::Local> local(relu_net);
            const auto local_history = local.fit(data, opt);
            Mpi::Options mixed;
            mixed.bucket_bytes = 64;
            Trainer<Mpi> c(relu_net, Mpi(MPI_COMM_WORLD, mixed));
            const auto history = c.fit(data, opt);
            CHECK(test::relative_difference(c.net(), local.net()) <= 1e-12);
            for (std::size_t i = 0; i < history.size(); ++i) CHECK(history[i] == doctest::Approx(local_history[i]).epsilon(1e-12));
        }
    // A net of fewer parameters than one part's block (22 < 64): one rank's part is all of
    // them and the others' empty, and every rank still shares its part (a rank whose part is
    // everything, taking its step for a whole one, once left the others waiting in the share).
    const pnn::Mlp<double> tiny({2, 4, 2}, 3);
    const auto xor_data = test::blobs<double>(40, 2, 2, 5);
    Trainer<pnn::Local> local(tiny);
    Trainer<Mpi> small(tiny, Mpi(MPI_COMM_WORLD));
    const auto small_history = small.fit(xor_data, settings(0));
    const auto local_history = local.fit(xor_data, settings(0));
    CHECK(test::relative_difference(small.net(), local.net()) <= 1e-12);
    for (std::size_t i = 0; i < small_history.size(); ++i)
        CHECK(small_history[i] == doctest::Approx(local_history[i]).epsilon(1e-12));
    CHECK(small.cost(xor_data) == doctest::Approx(local.cost(xor_data)).epsilon(1e-12));
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) {
        std::remove((name + "/a.ckpt").c_str());
        std::remove((name + "/b.ckpt").c_str());
        ::rmdir(name.c_str());
    }
}

TEST_CASE("overlapped reduction: buckets of any size give Local's model; the sums run beside backprop") {
    // 224 parameters, under one default bucket: buckets of 8 bytes to 1000 bytes cut the gradient
    // into single elements, sub-layer chunks and whole layers; 0 is the default (one bucket,
    // the blocked order). The full batch, mini-batches of 128 rows, and of 3 (on 4 ranks, some
    // rank holds none of a batch's rows, and must start the same sums as the others).
    for (std::size_t batch : {std::size_t(0), std::size_t(128), std::size_t(3)})
    for (bool overlap : {true, false})
        for (std::size_t bucket : {std::size_t(8), std::size_t(64), std::size_t(200), std::size_t(1000), std::size_t(0)}) {
            CAPTURE(batch);
            CAPTURE(overlap);
            CAPTURE(bucket);
            Trainer<pnn::Local> local(initial);
            const auto local_history = local.fit(data, settings(batch));
            const auto local_gradient = local.gradient(data, 0.1);
            Mpi::Options options;
            options.overlap = overlap;
            options.overlap_trial = false;  // always overlap (the trial steps are tested below)
            options.bucket_bytes = bucket;
            Mpi comm(MPI_COMM_WORLD, options);
            Trainer<Mpi> mpi(initial, comm);
            mpi.record_stages(true);
            const auto history = mpi.fit(data, settings(batch));
            CHECK(test::relative_difference(mpi.net(), local.net()) <= 1e-12);
            REQUIRE(history.size() == local_history.size());
            for (std::size_t i = 0; i < history.size(); ++i)
                CHECK(history[i] == doctest::Approx(local_history[i]).epsilon(1e-12));
            const auto g = mpi.gradient(data, 0.1);
            for (std::size_t l = 0; l < g.size(); ++l) CHECK(xt::allclose(g[l], local_gradient[l], 1e-11, 1e-14));
            // Overlapped: no barrier before the reduction (its "wait" would serialise the step),
            // and time with sums in flight beside backprop; else the barrier's wait and none.
            const bool overlapped = overlap && world_size() > 1 && bucket > 0 && bucket < 224 * sizeof(double);
            CHECK((mpi.stages().overlapped > 0) == overlapped);
            CHECK((mpi.stages().wait > 0) == !overlapped);
        }
    // float: the cost's sum travels apart from the gradient's (a float cannot hold it)
    pnn::Trainer<pnn::Mlp<float>, pnn::Cpu, pnn::Local> local_float(pnn::Mlp<float>({12, 10, 6, 4}, 3));
    const auto float_data = test::blobs<float>(1001, 12, 4, 7);
    const auto float_history = local_float.fit(float_data, settings(0));
    Mpi::Options options;
    options.bucket_bytes = 40;
    pnn::Trainer<pnn::Mlp<float>, pnn::Cpu, Mpi> mpi_float(pnn::Mlp<float>({12, 10, 6, 4}, 3), Mpi(MPI_COMM_WORLD, options));
    const auto history = mpi_float.fit(float_data, settings(0));
    for (std::size_t i = 0; i < history.size(); ++i) CHECK(history[i] == doctest::Approx(float_history[i]).epsilon(1e-5));
    CHECK(test::relative_difference(mpi_float.net(), local_float.net()) <= 1e-5);
}

TEST_CASE("overlapped reduction: a trainer made where another was, on some ranks only, sums with requests of its own") {
    // A persistent request matches the one made at the same point on every rank, and whether a
    // rank reuses one depends on the buffer's address. Here the allocator hands the second
    // trainer the first one's memory on some ranks and other memory where a rank holds a block
    // of the same size in between: without forget_sums() at the first one's end, the ranks
    // would disagree on which request to start, and the sums would wait for each other forever.
    Mpi::Options options;
    options.overlap_trial = false;
    options.bucket_bytes = 64;
    options.watchdog = std::chrono::seconds(60);  // the hang ends with a message naming the sums
    const Mpi comm(MPI_COMM_WORLD, options);
    Trainer<pnn::Local> local(initial);
    const auto local_history = local.fit(data, settings(0));
    std::vector<std::vector<double>> held;
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        {
            Trainer<Mpi> first(initial, comm);
            first.fit(data, settings(0));
        }
        if (world_rank() % 2 == 1) held.emplace_back(initial.parameter_count() + round);
        Trainer<Mpi> second(initial, comm);
        const auto history = second.fit(data, settings(0));
        CHECK(test::relative_difference(second.net(), local.net()) <= 1e-12);
        CHECK(history.back() == doctest::Approx(local_history.back()).epsilon(1e-12));
    }
}

TEST_CASE("overlap's trial steps: both orders tried, one kept on every rank, Local's model") {
    // The default: the first 4 steps that could overlap alternate overlapped and blocked, then
    // the faster (summed over ranks) is kept, the same on every rank.
    for (std::size_t batch : {std::size_t(0), std::size_t(128)}) {
        CAPTURE(batch);
        Trainer<pnn::Local> local(initial);
        const auto local_history = local.fit(data, settings(batch));
        Mpi::Options options;
        options.bucket_bytes = 64;
        Trainer<Mpi> mpi(initial, Mpi(MPI_COMM_WORLD, options));
        const pnn::OverlapChoice& choice = mpi.overlap_choice(batch > 0);
        CHECK(choice.trials == 0);
        auto few = settings(batch);
        few.iterations = 3;
        mpi.fit(data, few);  // the trials go on across fits
        CHECK(choice.trials == (world_size() > 1 ? 3 : 0));
        CHECK_FALSE(choice.decided);
        few.iterations = settings(batch).iterations - 3;
        const auto history = mpi.fit(data, few);
        CHECK(test::relative_difference(mpi.net(), local.net()) <= 1e-12);
        CHECK(history.back() == doctest::Approx(local_history.back()).epsilon(1e-12));
        CHECK(mpi.overlap_choice(batch == 0).trials == 0);  // the other kind of step has its own
        if (world_size() == 1) {
            CHECK_FALSE(choice.decided);  // nothing to overlap with
            continue;
        }
        REQUIRE(choice.decided);
        CHECK(choice.trials == 4);
        CHECK(choice.overlap == (choice.overlapped_seconds < choice.blocked_seconds));
        double chosen[3] = {double(choice.overlap), choice.blocked_seconds, choice.overlapped_seconds};
        double sum[3] = {chosen[0], chosen[1], chosen[2]};
        MPI_Allreduce(MPI_IN_PLACE, sum, 3, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        CHECK((sum[0] == 0 || sum[0] == world_size()));  // the same order everywhere
        CHECK(sum[1] == world_size() * chosen[1]);        // from the same sums
        CHECK(sum[2] == world_size() * chosen[2]);
    }
}

TEST_CASE("transfers past an MPI count go in pieces: with the piece limit lowered, Local's model, checkpoints too") {
    // 97 elements a call: rank 0's scatter of 1001 x 12 values goes by MPI_Send in pieces, sums
    // and broadcasts in pieces, the reproducible mode's gather and a checkpoint's bytes by
    // MPI_Bcast in pieces (the paths a dataset or checkpoint past 2^30 elements takes)
    struct Lowered {
        std::size_t was = pnn::detail::mpi_piece_limit();
        Lowered() { pnn::detail::mpi_piece_limit() = 97; }
        ~Lowered() { pnn::detail::mpi_piece_limit() = was; }
    } lowered;
    const std::size_t block = 64;
    const std::string name = shared_folder("pnn-mpi-pieces");
    const std::string path = name + "/pieces.ckpt";
    for (std::size_t reproducible : {std::size_t(0), block})
        for (auto reduction : {pnn::Reduction::allreduce, pnn::Reduction::gather_bcast}) {
            CAPTURE(reproducible);
            CAPTURE(int(reduction));
            Trainer<pnn::Local> local(initial, pnn::Local{reproducible});
            const auto local_history = local.fit(data, settings(0));
            Mpi comm(MPI_COMM_WORLD, Mpi::Options{reduction, pnn::Placement::automatic, reproducible});
            Trainer<Mpi> mpi(initial, comm);
            const auto history = mpi.fit(comm.rank() == 0 ? data : pnn::Dataset<double>(), settings(0));
            if (reproducible) {
                CHECK(mpi.net() == local.net());
                CHECK(history == local_history);
            } else {
                CHECK(test::relative_difference(mpi.net(), local.net()) <= 1e-12);
            }
            mpi.save_checkpoint(path);
            Trainer<Mpi> resumed(pnn::Mlp<double>({12, 10, 6, 4}, 77), comm);
            resumed.load_checkpoint(path);  // 2.4 KB: 25 pieces
            CHECK(resumed.net() == mpi.net());
        }
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) {
        std::remove(path.c_str());
        ::rmdir(name.c_str());
    }
}

TEST_CASE("reproducible mode: bit-for-bit the same weights as Local, on any number of ranks") {
    const std::size_t block = 64;  // 1001 rows: 16 blocks, the last one of 41 rows
    for (std::size_t batch : {std::size_t(0), std::size_t(300)}) {
        CAPTURE(batch);
        Trainer<pnn::Local> local(initial, pnn::Local{block});
        const auto local_history = local.fit(data, settings(batch));
        const double local_cost = local.cost(data, 0.1);
        const auto local_gradient = local.gradient(data, 0.1);
        // and within rounding of the ordinary mode
        Trainer<pnn::Local> ordinary(initial);
        ordinary.fit(data, settings(batch));
        CHECK(test::relative_difference(local.net(), ordinary.net()) <= 1e-12);
        for (auto [placement, how] : {std::pair{pnn::Placement::automatic, "every rank"},
                                      std::pair{pnn::Placement::automatic, "root"},
                                      std::pair{pnn::Placement::sharded, "own rows"}}) {
            if (batch && std::string(how) != "every rank") continue;  // mini-batches need every row
            const char* how_named = how;  // (a copy: clang 14 captures no structured binding)
            CAPTURE(how_named);
            Mpi comm(MPI_COMM_WORLD, Mpi::Options{pnn::Reduction::allreduce, placement, block});
            const auto passed = as_passed(placement, how, comm);
            Trainer<Mpi> mpi(initial, comm);
            const auto history = mpi.fit(passed, settings(batch));
            CHECK(mpi.net() == local.net());  // every bit
            CHECK(history == local_history);
            CHECK(mpi.cost(passed, 0.1) == local_cost);
            const auto g = mpi.gradient(passed, 0.1);
            for (std::size_t l = 0; l < g.size(); ++l) CHECK(g[l] == local_gradient[l]);
        }
    }
    // The control: with the mode off, 3 or more ranks sum in another order and the weights
    // differ from Local's in the last bits (so the bit-for-bit checks above can fail).
    if (world_size() >= 3) {
        Trainer<pnn::Local> local(initial);
        local.fit(data, settings(0));
        Trainer<Mpi> mpi(initial, Mpi(MPI_COMM_WORLD));
        mpi.fit(data, settings(0));
        CHECK(!(mpi.net() == local.net()));
        CHECK(test::relative_difference(mpi.net(), local.net()) <= 1e-12);
    }
    // shares that cut a block are refused, on every rank
    if (world_size() > 1) {
        Mpi comm(MPI_COMM_WORLD, Mpi::Options{pnn::Reduction::allreduce, pnn::Placement::sharded, block});
        const std::size_t lo = pnn::even_split(data.size(), std::size_t(world_size()), std::size_t(world_rank()));
        const std::size_t hi = pnn::even_split(data.size(), std::size_t(world_size()), std::size_t(world_rank()) + 1);
        Trainer<Mpi> t(initial, comm);
        const std::string msg = test::error_of([&] { t.fit(data.slice(lo, hi), settings(0)); });
        CHECK(msg.find("reproducible mode: expected this rank's rows to be whole blocks of 64 rows") !=
              std::string::npos);
    }
}

TEST_CASE("every hidden unit and output, with Sgd and AdamW: Mpi trains Local's model, and bit for bit in the reproducible mode") {
    for (const auto& kind : test::every_unit_kind()) {
        const auto activation = kind.first;
        const auto output = kind.second;
        if (activation == pnn::Activation::sigmoid && output == pnn::Output::sigmoid) continue;  // the cases above
        CAPTURE(pnn::name_of(activation));
        CAPTURE(pnn::name_of(output));
        const pnn::Mlp<double> net({12, 10, 6, 4}, 3, activation, output);
        for (std::size_t batch : {std::size_t(0), std::size_t(128)}) {
            CAPTURE(batch);
            pnn::Sgd opt = settings(batch);
            opt.learning_rate = 0.1;
            Trainer<pnn::Local> local(net);
            const auto local_history = local.fit(data, opt);
            Mpi comm(MPI_COMM_WORLD, Mpi::Options{pnn::Reduction::allreduce, pnn::Placement::sharded});
            Trainer<Mpi> mpi(net, comm);
            const auto history = mpi.fit(as_passed(pnn::Placement::sharded, "own rows", comm), opt);
            CHECK(mpi.net().activations() == net.activations());
            CHECK(test::relative_difference(mpi.net(), local.net()) <= 1e-12);
            REQUIRE(history.size() == local_history.size());
            for (std::size_t i = 0; i < history.size(); ++i) CHECK(history[i] == doctest::Approx(local_history[i]).epsilon(1e-12));

            Trainer<pnn::Local> local_blocks(net, pnn::Local{64});
            const auto block_history = local_blocks.fit(data, opt);
            Mpi reproducible(MPI_COMM_WORLD, Mpi::Options{pnn::Reduction::allreduce, pnn::Placement::automatic, 64});
            Trainer<Mpi> exact(net, reproducible);
            CHECK(exact.fit(data, opt) == block_history);
            CHECK(exact.net() == local_blocks.net());

            // AdamW (weight decay and L2) on the same net: Local's model, and bit for bit
            const pnn::Adam adam = test::adam_settings(batch, 20, 9, 0.05, 0.01);
            Trainer<pnn::Local> local_adam(net), local_adam_blocks(net, pnn::Local{64});
            const auto adam_history = local_adam.fit(data, adam);
            Trainer<Mpi> mpi_adam(net, comm), exact_adam(net, reproducible);
            const auto mpi_history = mpi_adam.fit(as_passed(pnn::Placement::sharded, "own rows", comm), adam);
            CHECK(test::relative_difference(mpi_adam.net(), local_adam.net()) <= 1e-12);
            for (std::size_t i = 0; i < mpi_history.size(); ++i) CHECK(mpi_history[i] == doctest::Approx(adam_history[i]).epsilon(1e-12));
            CHECK(exact_adam.fit(data, adam) == local_adam_blocks.fit(data, adam));
            CHECK(exact_adam.net() == local_adam_blocks.net());
        }
    }
    // ranks whose nets differ only in their units are refused on every rank
    if (world_size() > 1) {
        const auto units = world_rank() == 1 ? pnn::Activation::relu : pnn::Activation::tanh;
        const std::string msg = test::error_of([&] { Trainer<Mpi> t(pnn::Mlp<double>({12, 10, 4}, 1, units), Mpi{}); });
        CHECK(msg.find("ranks disagree on the net's layer sizes, units and element type") != std::string::npos);
    }
}

TEST_CASE("float nets: Mpi's costs and weights are Local's up to float rounding") {
    // float gradients take the cost in a separate sum (it cannot travel in a float slot)
    const auto data32 = test::blobs<float>(1001, 12, 4, 7);
    const pnn::Mlp<float> initial32({12, 10, 4}, 3);
    for (auto reduction : {pnn::Reduction::allreduce, pnn::Reduction::gather_bcast}) {
        CAPTURE(int(reduction));
        pnn::Trainer<pnn::Mlp<float>, pnn::Cpu, pnn::Local> local(initial32);
        pnn::Trainer<pnn::Mlp<float>, pnn::Cpu, Mpi> mpi(initial32, Mpi(MPI_COMM_WORLD, Mpi::Options{reduction}));
        const auto local_history = local.fit(data32, settings(0));
        const auto history = mpi.fit(data32, settings(0));
        CHECK(test::relative_difference(mpi.net(), local.net()) <= 1e-5);
        REQUIRE(history.size() == local_history.size());
        for (std::size_t i = 0; i < history.size(); ++i)
            CHECK(history[i] == doctest::Approx(local_history[i]).epsilon(1e-5));
        CHECK(mpi.cost(data32) == doctest::Approx(local.cost(data32)).epsilon(1e-5));
    }
}

// Cpu, but claiming that its buffers are not host memory: the Trainer then stages what the
// communicator reads through a host buffer, as it does for Cuda (Trainer::on_host). Tests that
// path where there is no GPU.
struct StagedCpu : pnn::Cpu {
    static constexpr bool host_memory = false;
    // transfers of arrays of values between "device" and host (not a mini-batch's row indices,
    // not the cost's one value), counted, so that a test can tell whether staging happened
    static inline std::size_t transfers = 0;
    template <class T>
    void copy_in(T* dst, const T* src, std::size_t n) const {
        transfers += std::is_floating_point_v<T> && n > 1;
        pnn::Cpu::copy_in(dst, src, n);
    }
    template <class T>
    void copy_out(T* dst, const T* src, std::size_t n) const {
        transfers += std::is_floating_point_v<T> && n > 1;
        pnn::Cpu::copy_out(dst, src, n);
    }
};

// For each batch size and reduction: a StagedCpu trainer over the communicator make(reduction)
// gives Local's weights (1e-12) and cost history; check(history) adds the caller's own checks.
template <class C, class Make, class Check>
void staged_gives_local(Make make, Check check) {
    for (std::size_t batch : {std::size_t(0), std::size_t(128)})
        for (auto reduction : {pnn::Reduction::allreduce, pnn::Reduction::gather_bcast}) {
            CAPTURE(batch);
            CAPTURE(int(reduction));
            Trainer<pnn::Local> local(initial);
            const auto local_history = local.fit(data, settings(batch));
            pnn::Trainer<pnn::Mlp<double>, StagedCpu, C> staged(initial, make(reduction));
            StagedCpu::transfers = 0;
            const auto history = staged.fit(data, settings(batch));
            check(history, StagedCpu::transfers);
            CHECK(test::relative_difference(staged.net(), local.net()) <= 1e-12);
            REQUIRE(history.size() == local_history.size());
            for (std::size_t i = 0; i < history.size(); ++i)
                CHECK(history[i] == doctest::Approx(local_history[i]).epsilon(1e-12));
        }
}

TEST_CASE("a device whose memory is not the host's: staged sums give Local's model") {
    staged_gives_local<Mpi>([](pnn::Reduction r) { return Mpi(MPI_COMM_WORLD, Mpi::Options{r}); },
                            [](const std::vector<double>& history, std::size_t transfers) {
                                // Over several ranks every update stages the gradient out and back
                                // (and the weights, for gather + bcast); over one, a sum is the
                                // identity and nothing is staged (the final weights alone come out).
                                if (world_size() > 1) CHECK(transfers >= 2 * history.size());
                                else CHECK(transfers <= 1);
                            });
}

// Mpi claiming to be CUDA-aware (as MPIX_Query_cuda_support says of such a build): the Trainer
// then hands it a device's buffers directly, without staging, and tells it they are not host
// memory (so the cost travels on its own). With StagedCpu this tests that path without a GPU.
int device_memory_reductions = 0;
struct DeviceReadingMpi : Mpi {
    using Mpi::Mpi;
    bool reads_device_memory() const { return true; }
    template <class T>
    void reduce_gradient(T* p, std::size_t n, double& cost, bool everywhere, bool host_memory = true) const {
        if (!host_memory) ++device_memory_reductions;
        Mpi::reduce_gradient(p, n, cost, everywhere, host_memory);
    }
};

TEST_CASE("a CUDA-aware communicator is handed device buffers unstaged, and gives Local's model") {
    // Mpi says what the MPI library says of itself (true of a CUDA-aware build at run time)
    CHECK(Mpi{}.reads_device_memory() == pnn::detail::mpi_reads_device_memory());
    staged_gives_local<DeviceReadingMpi>(
        [](pnn::Reduction r) {
            device_memory_reductions = 0;
            return DeviceReadingMpi(MPI_COMM_WORLD, Mpi::Options{r});
        },
        [](const std::vector<double>& history, std::size_t transfers) {
            CHECK(device_memory_reductions == (world_size() > 1 ? int(history.size()) : 0));
            CHECK(transfers <= 1);  // nothing staged: the final weights alone come out
        });
}

TEST_CASE("checkpoints are collective: written on all ranks, resumed on half of them, Local's model") {
    // The path rank 0 makes, known to every rank.
    const std::string name = shared_folder("pnn-mpi-ckpt");
    const std::string path = name + "/run.ckpt";
    // The ranks that resume: the first half (at least one), in a communicator of their own.
    const int resumers = (world_size() + 1) / 2;
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, world_rank() < resumers ? 0 : MPI_UNDEFINED, world_rank(), &half);
    const std::size_t n = 30, k = 11, block = 64;
    // Sgd on the seed's net; AdamW on ReLU units with a softmax output
    const pnn::Mlp<double> relu_net({12, 10, 6, 4}, 3, pnn::Activation::relu, pnn::Output::softmax);
    for (const bool adam : {false, true})
    for (std::size_t batch : {std::size_t(0), std::size_t(128)})
        for (std::size_t reproducible : {std::size_t(0), block}) {
            CAPTURE(adam);
            CAPTURE(batch);
            CAPTURE(reproducible);
            const pnn::Mlp<double>& net = adam ? relu_net : initial;
            auto opt_for = [&](std::size_t iterations) -> pnn::Optimizer {
                pnn::Sgd s = settings(batch);
                s.iterations = iterations;
                if (!adam) return s;
                return test::adam_settings(batch, iterations, s.seed, s.lambda, 0.01);
            };
            Trainer<pnn::Local> whole(net, pnn::Local{reproducible});
            whole.fit(data, opt_for(n));
            Trainer<Mpi> first(net, Mpi(MPI_COMM_WORLD, Mpi::Options{pnn::Reduction::allreduce, pnn::Placement::automatic,
                                                                        reproducible}));
            first.fit(data, opt_for(k));
            first.save_checkpoint(path);
            if (half == MPI_COMM_NULL) continue;
            Trainer<Mpi> rest(pnn::Mlp<double>({12, 10, 6, 4}, 77, net.activations(), net.output()),
                              Mpi(half, Mpi::Options{pnn::Reduction::allreduce, pnn::Placement::automatic, reproducible}));
            pnn::Optimizer saved = rest.load_checkpoint(path);
            CHECK(saved.index() == std::size_t(adam));
            CHECK(rest.step() == k);
            std::visit([&](auto& o) { o.iterations = n - k; }, saved);
            rest.fit(data, saved);
            if (reproducible)
                CHECK(rest.net() == whole.net());  // every bit
            else
                CHECK(test::relative_difference(rest.net(), whole.net()) <= 1e-12);
        }
    // A bad file is refused on every rank, rank 0 saying why.
    const std::string msg = test::error_of([&] {
        Trainer<Mpi> t(initial, Mpi{});
        t.load_checkpoint(name + "/missing.ckpt");
    });
    if (world_rank() == 0) CHECK(msg.find("missing.ckpt: cannot open the checkpoint") != std::string::npos);
    else CHECK(msg.find("rejected by 1 other rank(s) (rank 0)") != std::string::npos);
    if (half != MPI_COMM_NULL) MPI_Comm_free(&half);
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) {
        std::remove(path.c_str());
        ::rmdir(name.c_str());
    }
}

TEST_CASE("timeline under Mpi: rank 0 writes every rank's events, one process a rank") {
    const std::string name = shared_folder("pnn-mpi-timeline");
    const std::string path = name + "/timeline.json";
    Trainer<Mpi> t(initial, Mpi(MPI_COMM_WORLD));
    t.record_timeline(true);
    t.fit(data, settings(0));
    t.write_timeline(path);
    // every rank's count of events, on rank 0
    std::uint64_t mine = t.timeline().events().size();
    const auto ranks_count = std::size_t(world_size());
    std::vector<std::uint64_t> counts(ranks_count);
    MPI_Gather(&mine, 1, MPI_UINT64_T, counts.data(), 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    CHECK(mine >= 1 + 5 * settings(0).iterations);  // the scatter, then each step's stages
    if (world_rank() == 0) {
        const test::Trace trace = test::read_trace(path);
        CHECK(trace.well_formed);
        std::vector<int> ranks(ranks_count);
        for (int r = 0; r < world_size(); ++r) ranks[std::size_t(r)] = r;
        CHECK(trace.processes == ranks);
        std::vector<std::uint64_t> found(ranks_count, 0);
        std::vector<unsigned> reductions(ranks_count, 0);
        for (const auto& e : trace.events) {
            REQUIRE(e.pid >= 0);
            REQUIRE(e.pid < world_size());
            ++found[std::size_t(e.pid)];
            reductions[std::size_t(e.pid)] += e.name == "reduction";
            CHECK(e.ts >= 0);  // every rank's clock starts at the same barrier, before any event
        }
        CHECK(found == counts);
        for (unsigned n : reductions) CHECK(n == settings(0).iterations);
        std::string zeros;
        for (int r = 0; r < world_size(); ++r) zeros += r ? ",0" : "0";
        CHECK(trace.dropped == zeros);
        std::remove(path.c_str());
        ::rmdir(name.c_str());
    }
}

TEST_CASE("local_rank is the rank among this host's ranks, whichever launcher started the job") {
    // MPI's own view of the host: the ranks that share its memory. Under mpirun inside a Slurm
    // allocation every rank has SLURM_LOCALID 0 (its daemon's); tests/slurm_test.sh runs this
    // case there and under srun.
    MPI_Comm host;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank(), MPI_INFO_NULL, &host);
    int on_host = -1, host_size = 0;
    MPI_Comm_rank(host, &on_host);
    MPI_Comm_size(host, &host_size);
    MPI_Comm_free(&host);
    const std::optional<int> local = pnn::local_rank();
    if (world_size() > 1 || local) {  // a singleton's launcher (none) may set nothing
        REQUIRE(local.has_value());
        CHECK(*local == on_host);
    }
    std::printf("rank %d of %d: local rank %d of %d on its host\n", world_rank(), world_size(), local.value_or(-1), host_size);
    std::fflush(stdout);
}

TEST_CASE("rank 0's initial weights reach every rank") {
    // each rank starts from a differently seeded net; rank 0's wins
    Trainer<Mpi> t(pnn::Mlp<double>({12, 10, 4}, 100 + std::uint64_t(world_rank())), Mpi{});
    CHECK(t.net() == pnn::Mlp<double>({12, 10, 4}, 100));
}

TEST_CASE("ranks that disagree are stopped on every rank, not left waiting") {
    if (world_size() < 2) return;
    // net sizes
    const std::string msg = test::error_of([] {
        Trainer<Mpi> t(pnn::Mlp<double>({12, world_rank() == 1 ? 9u : 10u, 4}, 1), Mpi{});
    });
    CHECK(msg.find("ranks disagree on the net's layer sizes, units and element type") != std::string::npos);
    // every rank fails, rank 0 alone reports it
    CHECK(test::reported_elsewhere([] {
              Trainer<Mpi> t(pnn::Mlp<double>({12, world_rank() == 1 ? 9u : 10u, 4}, 1), Mpi{});
          }) == (world_rank() != 0));
    // a bad label on one rank's own rows
    Mpi sharded(MPI_COMM_WORLD, Mpi::Options{pnn::Reduction::allreduce, pnn::Placement::sharded});
    auto mine = as_passed(pnn::Placement::sharded, "", sharded);
    if (world_rank() == 1) {
        xt::xtensor<int, 1> y = mine.y();
        y(0) = 7;
        mine = pnn::Dataset<double>(mine.x(), y, "rank 1's rows");
    }
    {
        Trainer<Mpi> t(initial, sharded);
        const std::string bad = test::error_of([&] { t.fit(mine, settings(0)); });
        CAPTURE(bad);
        if (world_rank() == 1)
            CHECK(bad.find("expected labels in 0..3 (the net has 4 outputs), found 7") != std::string::npos);
        else
            CHECK(bad.find("rejected by 1 other rank(s) (rank 1)") != std::string::npos);
        // the failing rank reports it, the others do not
        CHECK(test::reported_elsewhere([&] { t.fit(mine, settings(0)); }) == (world_rank() != 1));
    }
    // rows on every rank but rank 0, without saying they are shards
    const std::string uneven = test::error_of([&] {
        Trainer<Mpi> u(initial, Mpi{});
        u.cost(world_rank() == 0 ? pnn::Dataset<double>() : data);
    });
    CHECK(uneven.find("expected the whole dataset on every rank, or on rank 0 alone") != std::string::npos);
}

TEST_CASE("equal-size shards of their own, passed without Placement::sharded, are refused on every rank") {
    if (world_size() == 1) return;  // one rank's shard is the whole dataset
    // rank r passes rows [100 r, 100 r + 100): equal counts, different rows
    const auto own = data.slice(100 * std::size_t(world_rank()), 100 * std::size_t(world_rank()) + 100);
    Trainer<Mpi> t(initial, Mpi{});
    const std::string msg = test::error_of([&] { t.fit(own, settings(0)); });
    CAPTURE(msg);
    CHECK(msg.find("every rank passed 100 rows, but not the same rows") != std::string::npos);
    CHECK(msg.find("Pass Placement::sharded") != std::string::npos);
    CHECK(test::reported_elsewhere([&] { t.cost(own); }) == (world_rank() != 0));
    CHECK(t.net() == initial);  // nothing trained
    // one element different on one rank is enough
    auto x = data.x();
    if (world_rank() == world_size() - 1) x(500, 3) += 1e-9;
    const std::string one = test::error_of([&] { t.cost(pnn::Dataset<double>(x, data.y())); });
    CHECK(one.find("but not the same rows") != std::string::npos);
    // the same rows everywhere still train, as Local does
    Trainer<pnn::Local> local(initial);
    local.fit(data.slice(0, 100), settings(0));
    const auto same = data.slice(0, 100);
    t.fit(same, settings(0));
    CHECK(test::relative_difference(t.net(), local.net()) <= 1e-12);
}

TEST_CASE("every rank uses the same CPU kernel level: the highest all have, or the one asked for if all have it") {
    const pnn::CpuKernels highest = pnn::simd::highest_supported();
    const Mpi comm;
    // what the constructor agreed on: this CPU's highest (every rank runs on the same machine here)
    CHECK(pnn::cpu_kernels() == pnn::name_of(highest));
    if (world_size() == 1 || highest == pnn::CpuKernels::generic) return;
    // the last rank plays a CPU one level lower: everyone takes that level
    const auto lower = pnn::CpuKernels(int(highest) - 1);
    const bool small = world_rank() == world_size() - 1;
    CHECK(comm.agree_cpu_kernels(small ? lower : highest) == lower);
    CHECK(pnn::cpu_kernels() == pnn::name_of(lower));
    // asking for a level that rank lacks is an error on every rank, reported once
    setenv("PNN_CPU", std::string(pnn::name_of(highest)).c_str(), 1);
    const std::string lacks = test::error_of([&] { comm.agree_cpu_kernels(small ? lower : highest); });
    CHECK(lacks.find("was asked for, but not every rank's CPU has it: the highest level all ranks have is " +
                     std::string(pnn::name_of(lower))) != std::string::npos);
    CHECK(test::reported_elsewhere([&] { comm.agree_cpu_kernels(small ? lower : highest); }) == (world_rank() != 0));
    // ranks that ask for different levels
    setenv("PNN_CPU", world_rank() == 0 ? "generic" : std::string(pnn::name_of(highest)).c_str(), 1);
    CHECK(test::error_of([&] { comm.agree_cpu_kernels(highest); }).find("PNN_CPU: expected the same level on every rank") !=
          std::string::npos);
    // a bad value on one rank: that rank reports it, the others fail quietly
    setenv("PNN_CPU", world_rank() == 1 ? "fast" : "generic", 1);
    const std::string bad = test::error_of([&] { comm.agree_cpu_kernels(highest); });
    if (world_rank() == 1) CHECK(bad.find("PNN_CPU: expected generic, avx2 or avx512, found 'fast'") != std::string::npos);
    CHECK(test::reported_elsewhere([&] { comm.agree_cpu_kernels(highest); }) == (world_rank() != 1));
    unsetenv("PNN_CPU");
    CHECK(comm.agree_cpu_kernels(highest) == highest);
}

int main(int argc, char** argv) {
    pnn::MpiSession mpi(&argc, &argv);
    doctest::Context context(argc, argv);
    if (world_rank() != 0) context.setOption("minimal", true);  // rank 0 reports; others only failures
    const int failed = context.run();
    int any = failed ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
}
