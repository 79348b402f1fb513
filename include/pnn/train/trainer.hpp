// defines: pnn::Trainer<Net, Device, Comm>, the training loop, written once for every device and
// communicator: cost, gradient, fit (Sgd or Adam), predict and accuracy.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "pnn/comm/comm.hpp"
#include "pnn/comm/local.hpp"
#include "pnn/comm/tree_sum.hpp"
#include "pnn/data/dataset.hpp"
#include "pnn/device/cpu.hpp"
#include "pnn/device/device.hpp"
#include "pnn/error.hpp"
#include "pnn/nn/backprop.hpp"
#include "pnn/train/adam.hpp"
#include "pnn/train/batch_shares.hpp"
#include "pnn/train/checkpoint.hpp"
#include "pnn/train/optimizer.hpp"
#include "pnn/train/overlap_choice.hpp"
#include "pnn/train/sgd.hpp"
#include "pnn/train/shuffle.hpp"
#include "pnn/train/stages.hpp"
#include "pnn/util/memory.hpp"

namespace pnn {

// What the Trainer needs of a net: its layer sizes, its units and one flat parameter buffer laid
// out as consecutive Theta matrices (pnn::Mlp).
template <class N>
concept Network = requires(N net, const N cnet) {
    typename N::value_type;
    { cnet.sizes() } -> std::convertible_to<std::vector<std::size_t>>;
    { cnet.layout() } -> std::convertible_to<ThetaLayout>;
    { cnet.activations() } -> std::convertible_to<std::vector<Activation>>;
    { cnet.output() } -> std::same_as<Output>;
    { cnet.parameter_count() } -> std::convertible_to<std::size_t>;
    { net.parameters() } -> std::same_as<typename N::value_type*>;
    { cnet.theta(0) } -> std::same_as<xt::xtensor<typename N::value_type, 2>>;
};

template <Network Net, Device D = Cpu, Comm C = Local>
class Trainer {
public:
    using T = typename Net::value_type;

    // The weights of rank 0 are broadcast, so every rank starts from the same net.
    explicit Trainer(Net net, C comm = C{}, D device = D{})
        : net_(std::move(net)), comm_(std::move(comm)), dev_(std::move(device)), bp_(dev_, net_.layout(), net_.activations(), net_.output()) {
        const std::size_t p = net_.parameter_count();
        agree_on_checks("the trainer's memory", [&] { check_memory(0); });
        comm_.agree(shape_hash(), "the net's layer sizes, units and element type");
        comm_.broadcast(net_.parameters(), p);
        auto buffer = [&](std::size_t n, const char* what) {
            return detail::allocating(n, sizeof(T), what, [&] { return dev_.template make_buffer<T>(n); }, D::host_memory);
        };
        theta_ = buffer(p, "the trainer's weights");
        grad_ = buffer(p + 1, "the trainer's gradient");  // + the spare element reduce_gradient may use
        mask_ = buffer(p, "the trainer's weight mask");
        dev_.copy_in(dev_.data(theta_), net_.parameters(), p);
        dev_.copy_in(dev_.data(mask_), net_.layout().template weight_mask<T>().data(), p);
        batch_index_ = dev_.template make_buffer<std::size_t>(bp_.block_rows());
        bp_.set_clock(&clock_);
        local_index_.reserve(bp_.block_rows());
    }
    Trainer(const Trainer&) = delete;  // holds device buffers and a workspace bound to its device
    Trainer& operator=(const Trainer&) = delete;
    ~Trainer() {
        // (collective, as the Trainer's construction is: the sums' requests kept for grad_ and
        // overlapped_cost_ go with them)
        if constexpr (overlaps_here) comm_.forget_sums();
    }

    // The net with the trainer's current weights.
    const Net& net() const { return net_; }
    // Updates applied so far, over every fit (the optimizer's step count).
    std::size_t step() const { return step_; }
    C& comm() { return comm_; }
    D& device() { return dev_; }

    // Stage timing of fit (scatter, forward, backprop, wait, reduction, update, bcast, total), off by
    // default; when off it costs one branch per stage, which benchmarks/stage_timing_cost.py
    // measures against a build without it (PNN_STAGE_TIMING=0, where stages() stays zero).
    // Times add up over fits until reset; cost, gradient and accuracy are not recorded.
    void record_stages(bool on) { record_ = on; }
    const StageTimes& stages() const { return clock_.times; }
    void reset_stages() { clock_.times = StageTimes{}; }

    // Where the gradient's sum may overlap backprop (pnn::Mpi on CPUs, pnn/comm/comm.hpp), the
    // order chosen from the first steps (pnn/train/overlap_choice.hpp), for full-batch steps
    // (mini_batches false) or mini-batch steps; decided is false until the trials are done.
    const OverlapChoice& overlap_choice(bool mini_batches) const { return overlap_choice_[mini_batches ? 1 : 0]; }

    // The timeline of fit (pnn/train/timeline.hpp): every stage of every step, each a begin and
    // an end, kept in a buffer of max_events (allocated here; past it events are counted, not
    // kept). Starting it forgets what was recorded; the first fit after it starts every rank's
    // clock at the end of one barrier, so that the ranks' timelines line up. Call it on every
    // rank alike. Off (the default), it costs what stage timing off costs: one branch a stage.
    // It times the stages as record_stages does (waiting for the device at each; the "wait"
    // stage is a barrier that runs only while recording).
    void record_timeline(bool on, std::size_t max_events = Timeline::default_capacity) {
        clock_.timeline.record(on, max_events);
    }
    const Timeline& timeline() const { return clock_.timeline; }
    // Writes every rank's timeline as Chrome trace JSON (chrome://tracing, ui.perfetto.dev), one
    // process per rank, atomically. Collective under Mpi: rank 0 gathers and writes; a failure
    // throws on every rank.
    void write_timeline(const std::string& path) {
        std::vector<unsigned char> all;
        std::vector<std::size_t> sizes;
        comm_.gather_bytes(clock_.timeline.bytes(), all, sizes);
        agree_on_checks(path, [&] {
            if (comm_.rank() != 0) return;
            const std::string json = Timeline::json(all, sizes, clock_.timeline.capacity());
            checkpoint::write_atomically(path, {{reinterpret_cast<const unsigned char*>(json.data()), json.size()}});
        });
    }

    // J(Θ) over the dataset: mean cross-entropy plus λ/(2m) Σ θ² over non-bias weights.
    double cost(const Dataset<T>& data, double lambda = 0.0) {
        check_lambda(lambda);
        const Resident r = resident(data);
        std::size_t m = 0;
        const double sum = sums(r, nullptr, /*with_gradient=*/false, /*everywhere=*/true, m);
        return finish_cost(sum, m, lambda);
    }

    // ∂J/∂Θ over the dataset, one Theta-shaped matrix per layer.
    std::vector<xt::xtensor<T, 2>> gradient(const Dataset<T>& data, double lambda = 0.0) {
        check_lambda(lambda);
        const Resident r = resident(data);
        std::size_t m = 0;
        sums(r, nullptr, /*with_gradient=*/true, /*everywhere=*/true, m);
        finish_gradient(m, lambda);
        Net g = net_;
        dev_.copy_out(g.parameters(), dev_.data(grad_), g.parameter_count());
        std::vector<xt::xtensor<T, 2>> out;
        for (std::size_t l = 0; l + 1 < net_.sizes().size(); ++l) out.push_back(g.theta(l));
        return out;
    }

    // Training with Sgd or Adam from the current weights and optimizer state; returns the cost of
    // the batch used before each update. on_step(i, cost) is called after update i (1-based).
    // The optimizer's state belongs to one kind: the first fit or a load_checkpoint sets it, and a
    // fit with the other kind is a pnn::error until reset_optimizer().
    template <class Opt, class OnStep>
        requires(std::same_as<Opt, Sgd> || std::same_as<Opt, Adam>)
    std::vector<double> fit(const Dataset<T>& data, const Opt& opt, OnStep&& on_step) {
        const auto started = StageClock::clock::now();
        struct Recording {  // the clock runs during fit only, whichever way fit ends
            StageClock& clock;
            ~Recording() { clock.on = clock.trace = false; }
        } recording{clock_};
        clock_.on = record_;
        clock_.trace = clock_.timeline.on();
        clock_.step = step_ + 1;  // the data's distribution: the first step's
        if (clock_.trace && !clock_.timeline.aligned()) {  // every rank's time 0: the end of one barrier
            comm_.barrier();
            clock_.timeline.align(StageClock::clock::now());
        }
        const Resident r = resident(data);
        if (!optimizer_.kind()) agree_on_checks("the optimizer's memory", [&] { check_memory(detail::state_arrays(opt)); });
        try {
            opt.validate(r.shard.global_rows);  // the same settings and count on every rank
            optimizer_.begin(opt);              // the same state's kind on every rank
        } catch (const error& e) {
            throw error(e.what(), comm_.rank() != 0);
        }
        settings_ = opt;
        const bool full = opt.batch_size == 0 || opt.batch_size == r.shard.global_rows;
        if (overlapping()) {  // before the loop: it allocates
            // (a rank's rows of a mini-batch: at most the batch, wherever they come from)
            const std::size_t rows = full ? r.shard.rows() : opt.batch_size;
            bp_.prepare_overlap(rows, bucket_elements());
            if (!full) make_batch_room(rows, net_.inputs());
        }
        if (!full && moves_rows(r.shard)) make_batch_room(opt.batch_size, net_.inputs());  // (before the loop: it allocates)
        const Batching batching{opt.batch_size, opt.seed};
        std::vector<double> history;
        history.reserve(std::min<std::size_t>(opt.iterations, std::size_t(1) << 20));
        for (std::size_t i = 1; i <= opt.iterations; ++i) {
            comm_.at_step(step_ + 1);
            clock_.step = step_ + 1;
            clock_.start();
            // The sums of cost and gradient over this step's batch, all ranks' shares combined:
            // the gradient where the update is computed, the cost everywhere.
            std::size_t m = 0;
            const double sum = sums(r, full ? nullptr : &batching, /*with_gradient=*/true, /*everywhere=*/false, m);
            lap(&StageTimes::reduction);
            const double j = finish_cost(sum, m, opt.lambda);
            if (!std::isfinite(j)) {
                sync_net();
                detail::fail_everywhere(comm_.rank(), "fit: the cost became ", std::isnan(j) ? "NaN" : "Inf",
                             " at iteration ", i,
                             " (update ", step_ + 1, " of this trainer); expected a finite cost: the learning rate (",
                             opt.learning_rate, ") may be too high, or the weights not finite");
            }
            if (comm_.updates_weights()) update(opt, m);
            lap(&StageTimes::update);
            share_updated_weights();
            lap(&StageTimes::bcast);
            ++step_;
            if (clock_.summing()) ++clock_.times.iterations;
            history.push_back(j);
            // on_step may return false to end the fit after this update (every rank must).
            if constexpr (std::is_same_v<decltype(on_step(i, j)), bool>) {
                if (!on_step(i, j)) break;
            } else {
                on_step(i, j);
            }
        }
        sync_net();
        if (clock_.summing()) clock_.times.total += std::chrono::duration<double>(StageClock::clock::now() - started).count();
        return history;
    }
    template <class Opt>
        requires(std::same_as<Opt, Sgd> || std::same_as<Opt, Adam>)
    std::vector<double> fit(const Dataset<T>& data, const Opt& opt) {
        return fit(data, opt, [](std::size_t, double) {});
    }
    // Either kind, as load_checkpoint returns it.
    template <class OnStep>
    std::vector<double> fit(const Dataset<T>& data, const Optimizer& opt, OnStep&& on_step) {
        return std::visit([&](const auto& o) { return fit(data, o, on_step); }, opt);
    }
    std::vector<double> fit(const Dataset<T>& data, const Optimizer& opt) {
        return fit(data, opt, [](std::size_t, double) {});
    }

    // Zeros the optimizer's state and forgets its kind: the next fit, of either kind, starts it
    // afresh (Adam's t from 0). The weights and the step count stay.
    void reset_optimizer() {
        optimizer_.reset();
        state_sharded_ = false;
    }

    // Writes everything a run needs to go on to path, atomically (pnn/train/checkpoint.hpp: the
    // format, and what a crash leaves): the net's sizes, units and element type, the weights, the
    // optimizer's kind, settings and state (momentum buffer; Adam's moments and t), the step
    // count (the shuffle's position). May be called between updates (from fit's on_step).
    // Collective under Mpi: rank 0, which holds the whole state, writes; a failure throws on
    // every rank. Before any fit, the state written is Sgd's, zero.
    void save_checkpoint(const std::string& path) {
        const std::size_t p = net_.parameter_count();
        sync_net();
        gather_optimizer_state();
        const std::size_t arrays = optimizer_.kind() ? optimizer_.arrays() : 1;
        std::vector<const void*> state;
        if (!optimizer_.kind()) {
            host_stage_.assign(p, T(0));
            state.push_back(host_stage_.data());
        } else if constexpr (D::host_memory) {
            for (std::size_t i = 0; i < arrays; ++i) state.push_back(optimizer_.array(i));
        } else {
            host_stage_.resize(std::max(host_stage_.size(), arrays * p));
            for (std::size_t i = 0; i < arrays; ++i) {
                dev_.copy_out(host_stage_.data() + i * p, optimizer_.array(i), p);
                state.push_back(host_stage_.data() + i * p);
            }
        }
        agree_on_checks(path, [&] {
            if (comm_.rank() != 0) return;
            checkpoint::save(path,
                             CheckpointHeader{sizeof(T), net_.sizes(), net_.activations(), net_.output(), step_,
                                              optimizer_.kind() ? settings_ : Optimizer(Sgd{}), optimizer_.steps()},
                             net_.parameters(), state);
        });
    }

    // Fails (pnn::error, on every rank) unless a checkpoint or timeline could be written to path
    // now: call it before a long fit that saves one. Collective under Mpi: rank 0, which
    // writes, checks.
    void check_writable(const std::string& path) {
        agree_on_checks(path, [&] {
            if (comm_.rank() == 0) checkpoint::check_writable(path);
        });
    }

    // Continues from a checkpoint: its weights, optimizer state (of its kind), step count and
    // settings replace this trainer's. Everything is checked first (magic, version, checksum, length, element
    // type, the net's sizes and units); on any failure it throws pnn::error naming the file and what is
    // wrong, and the trainer is as it was. Returns the settings of the fit that wrote it.
    // Collective under Mpi: rank 0 reads the file and sends its bytes to every rank (the ranks
    // need not share a file system); a checkpoint from any number of ranks loads on any other.
    Optimizer load_checkpoint(const std::string& path) {
        std::vector<unsigned char> bytes, all;
        agree_on_checks(path, [&] {
            if (comm_.rank() != 0) return;
            bytes = checkpoint::read_file(path);
            check_matches(checkpoint::decode(bytes, path).header, path);
        });
        comm_.allgather_bytes(bytes, all);  // rank 0's bytes, everywhere
        const CheckpointView c = checkpoint::decode(all, path);
        const std::size_t p = net_.parameter_count();
        std::memcpy(net_.parameters(), c.theta, c.payload_bytes);
        dev_.copy_in(dev_.data(theta_), net_.parameters(), p);
        optimizer_.start(c.header.settings.index(), c.header.optimizer_steps);
        state_sharded_ = false;
        for (std::size_t i = 0; i < c.state.size(); ++i)
            dev_.copy_in(optimizer_.array(i), reinterpret_cast<const T*>(c.state[i]), p);
        step_ = std::size_t(c.header.step);
        settings_ = c.header.settings;
        order_epoch_ = std::size_t(-1);  // the shuffle's order is drawn again for the step
        replay_.reset();
        return settings_;
    }

    // The most likely class of every row of x.
    xt::xtensor<int, 1> predict(const xt::xtensor<T, 2>& x) {
        const MatrixRef<const T> rows{x.data(), x.shape(0), x.shape(1)};
        check_width(rows.cols, rows.rows, "predict input");
        detail::check_finite(rows, "predict input");
        xt::xtensor<int, 1> out = xt::xtensor<int, 1>::from_shape({x.shape(0)});
        auto dx = dev_.upload(rows);
        bp_.classify(dev_.data(theta_), dx.view(), out.data(), nullptr);
        return out;
    }

    // Fraction of samples whose predicted class is their label.
    double accuracy(const Dataset<T>& data) {
        const Resident r = resident(data);
        std::size_t correct = bp_.classify(dev_.data(theta_), r.x.view(), nullptr, r.y.view().data);
        comm_.sum(&correct, 1);
        return double(correct) / double(r.shard.global_rows);
    }

private:
    // This rank's rows of a dataset, checked and uploaded to the device (for Cpu: views).
    // Every row too when the rank holds them, where mini-batches use them: in the reproducible
    // mode, and where they cost no copy (host memory; see mini_batch_rows).
    struct Resident {
        Shard<T> shard;
        decltype(std::declval<D&>().upload(MatrixRef<const T>{})) x, whole_x;
        decltype(std::declval<D&>().upload(MatrixRef<const int>{})) y, whole_y;
    };
    Resident resident(const Dataset<T>& data) {
        clock_.start();
        Shard<T> s = shard(data);
        auto x = dev_.upload(s.x);
        auto y = dev_.upload(MatrixRef<const int>{s.y, s.rows(), 1});
        const bool whole = (comm_.reproducible_rows() > 0 || D::host_memory) && s.whole_y;
        auto wx = dev_.upload(whole ? s.whole_x : MatrixRef<const T>{});
        auto wy = dev_.upload(MatrixRef<const int>{whole ? s.whole_y : nullptr, whole ? s.global_rows : 0, 1});
        lap(&StageTimes::scatter);
        return {std::move(s), std::move(x), std::move(wx), std::move(y), std::move(wy)};
    }

    void lap(double StageTimes::*stage) { clock_.lap(stage, dev_); }

    // Before allocating: the net's parameters held 4 + state_arrays times in host memory (the
    // net, the weights, the gradient, the bias mask, the optimizer's arrays) must fit this
    // machine (a device with its own memory reports its own allocation failures).
    void check_memory(std::size_t state_arrays) const {
        if constexpr (D::host_memory)
            detail::check_fits((4 + state_arrays) * net_.parameter_count(), sizeof(T),
                               detail::text("a trainer of net ", sizes_text(net_.sizes()), " (its ",
                                               net_.parameter_count(), " parameters held ", 4 + state_arrays,
                                               " times: the net, the weights, the gradient, the bias mask",
                                               state_arrays ? " and the optimizer's state" : "", ")"));
    }

    static void check_lambda(double lambda) {
        if (!(lambda >= 0) || !std::isfinite(lambda)) detail::fail("lambda: expected a finite value >= 0, found ", lambda);
    }

    void check_width(std::size_t width, std::size_t rows, const std::string& name) const {
        if (rows > 0 && width != net_.sizes().front())
            detail::fail(name, ": expected ", net_.sizes().front(), " features per sample (the net's inputs), found ", width);
    }

    // This rank's rows, checked against the net: width, labels in 0..k-1, not empty. Collective.
    Shard<T> shard(const Dataset<T>& data) {
        Shard<T> s = comm_.distribute(data);
        agree_on_checks(data.name(), [&] {
            check_width(s.x.cols, s.rows(), data.name());
            const int k = int(net_.sizes().back());
            for (std::size_t i = 0; i < s.rows(); ++i)
                if (s.y[i] >= k)
                    detail::fail(data.name(), ": expected labels in 0..", k - 1, " (the net has ", k,
                                 " outputs), found ", s.y[i], " at sample ", s.offset + i);
        });
        if (s.global_rows == 0)
            detail::fail_everywhere(comm_.rank(), data.name(), ": expected at least one sample, found an empty dataset");
        return s;
    }

    // Runs checks that may fail on some ranks only, then makes the outcome collective: when any
    // rank's checks fail, every rank throws (the failing rank its own message, the others one
    // that names it and is reported_elsewhere), so that no rank is left waiting in the next
    // collective call.
    template <class Checks>
    void agree_on_checks(const std::string& what, Checks&& checks) {
        std::string problem;
        try {
            checks();
        } catch (const error& e) {
            problem = e.what();
        }
        std::size_t failed[2] = {problem.empty() ? 0u : 1u, problem.empty() ? 0u : std::size_t(comm_.rank())};
        comm_.sum(failed, 2);
        if (!problem.empty()) throw error(problem);
        if (failed[0] > 0)
            throw error(detail::message(what, ": rejected by ", failed[0], " other rank(s)", failed[0] == 1 ? " (rank " : "",
                                        failed[0] == 1 ? std::to_string(failed[1]) + ")" : std::string(),
                                        ", which said why"),
                        true);
    }

    double finish_cost(double sum, std::size_t m, double lambda) {
        double j = sum / double(m);
        if (lambda > 0)
            j += lambda / (2.0 * double(m)) *
                 dev_.masked_sum_squares(dev_.data(mask_), dev_.data(theta_), net_.parameter_count());
        return j;
    }

    // The sums over all ranks of the cost (returned) and, with_gradient, of ∂J/∂Θ (into grad_)
    // over the step's rows: the whole dataset, or the next mini-batch when batch is given; m is
    // set to their number. The gradient's sum lands on every rank when everywhere, else where
    // the communicator updates the weights.
    // A fit's mini-batches: B samples per update, in the shuffle of this seed.
    struct Batching {
        std::size_t batch_size;
        std::uint64_t seed;
    };

    double sums(const Resident& r, const Batching* batch, bool with_gradient, bool everywhere, std::size_t& m) {
        summed_ = Part{0, net_.parameter_count()};
        if (comm_.reproducible_rows() > 0) return reproducible_sums(r, batch, with_gradient, m);
        T* grad = with_gradient ? dev_.data(grad_) : nullptr;
        const std::size_t all = r.shard.global_rows;
        const auto [lo, hi] = batch ? batch_positions(all, *batch) : std::pair<std::size_t, std::size_t>{0, all};
        m = hi - lo;
        if constexpr (overlaps_here) {
            if (grad && overlapping()) return chosen_order_sums(r, batch, lo, hi, grad, everywhere);
        }
        return blocked_sums(r, batch, lo, hi, grad, everywhere);
    }

    // sums() where the gradient's sum may overlap backprop: overlapped, or blocked if the
    // trial steps found that faster here (pnn/train/overlap_choice.hpp), or one of the trials.
    double chosen_order_sums(const Resident& r, const Batching* batch, std::size_t lo, std::size_t hi, T* grad,
                             bool everywhere) {
        auto overlapped = [&] {
            if (!batch) return overlapped_sums(r.x.view(), r.y.view().data, grad);
            const MiniBatchRows b = mini_batch_rows(r, lo, hi);
            return overlapped_sums(gather_batch(b.rows, b.rows.x, b.rows.y, b.lo, b.hi), dev_.data(batch_y_), grad);
        };
        // On a device stream (pnn::Nccl) the host cannot time a step's reduction without waiting
        // for it, and the sums run beside the kernels at little cost: always overlap there.
        if (!D::host_memory || !comm_.overlap_trial()) return overlapped();
        OverlapChoice& choice = overlap_choice_[batch ? 1 : 0];
        if (choice.decided) return choice.overlap ? overlapped() : blocked_sums(r, batch, lo, hi, grad, everywhere);
        const auto start = StageClock::clock::now();  // a trial step, timed
        const double sum = choice.next_overlaps() ? overlapped() : blocked_sums(r, batch, lo, hi, grad, everywhere);
        choice.record(std::chrono::duration<double>(StageClock::clock::now() - start).count(), comm_);
        return sum;
    }

    // sums() in the blocked order: this rank's sums over its rows of the step's batch (order
    // positions [lo, hi) of a mini-batch, or every row), then one reduction over ranks.
    double blocked_sums(const Resident& r, const Batching* batch, std::size_t lo, std::size_t hi, T* grad, bool everywhere) {
        double sum;
        if (batch) {
            if (grad) dev_.fill(grad, net_.parameter_count(), T(0));
            const MiniBatchRows b = mini_batch_rows(r, lo, hi);
            sum = local_rows(b.rows, b.rows.x, b.rows.y, b.lo, b.hi, grad);
        } else {
            sum = full_batch(r.x.view(), r.y.view().data, grad);
        }
        if (clock_.recording()) {  // time the wait for the slowest rank apart from the reduction itself
            comm_.barrier();
            lap(&StageTimes::wait);
        }
        const std::size_t p = net_.parameter_count();
        if constexpr (shards_here) {
            if (grad && !everywhere) {
                if (const auto part = comm_.reduce_gradient_part(grad, p, sum))
                    summed_ = Part{part->first, part->second, /*sharded=*/true};
                return sum;
            }
        }
        if (grad)
            on_host(grad, p, p + 1, [&](T* g, bool host_memory) { comm_.reduce_gradient(g, p, sum, everywhere, host_memory); });
        else
            comm_.sum(&sum, 1);
        return sum;
    }

    // Whether the gradient's sum over ranks runs while backprop still computes: a communicator
    // that can (pnn::Mpi with overlap on, more than one rank) on the memory the gradient lies in
    // (host memory; device memory for one that sums on a stream of the device's, pnn::Nccl), and
    // a gradient of more than one bucket (of one, nothing could be sent before the end, and the
    // blocked order is faster).
    bool overlapping() const {
        if constexpr (overlaps_here)
            return comm_.overlaps() && net_.parameter_count() * sizeof(T) > comm_.bucket_bytes();
        else
            return false;
    }
    // One update from the gradient's sum over m samples, of the part the last sums() summed:
    // the whole, or this rank's part where the communicator shards the update
    // (PartSummingComm). The optimizer's state is then current only on that part; a whole
    // update first gathers it.
    template <class Opt>
    void update(const Opt& opt, std::size_t m) {
        // (a rank's part is the same on every sharded step: n fixes it)
        if (summed_.sharded) state_sharded_ = true;
        else gather_optimizer_state();
        optimizer_.update(opt, dev_.data(theta_), dev_.data(grad_), dev_.data(mask_), m, summed_);
    }
    // After an update, the weights on every rank: each rank's part, where the update was sharded;
    // rank 0's, with the seed's gather + bcast; nothing to send with allreduce.
    void share_updated_weights() {
        const std::size_t p = net_.parameter_count();
        if constexpr (shards_here) {
            if (summed_.sharded) return comm_.share_parts(dev_.data(theta_), p);
        }
        if (comm_.shares_weights()) on_host(dev_.data(theta_), p, p, [&](T* theta, bool) { comm_.share_weights(theta, p); });
    }
    // The optimizer's state whole on every rank, where sharded updates left each rank its part.
    void gather_optimizer_state() {
        const std::size_t p = net_.parameter_count();
        if (!state_sharded_) return;
        if constexpr (shards_here) {
            if (optimizer_.kind())
                for (std::size_t i = 0; i < optimizer_.arrays(); ++i) comm_.share_parts(optimizer_.array(i), p);
        }
        state_sharded_ = false;
    }
    // Whether sums may leave each rank only its part of the gradient (PartSummingComm), on a
    // device whose memory is the host's.
    static constexpr bool shards_here = D::host_memory && PartSummingComm<C, T>;

    static constexpr bool overlaps_here =
        OverlappingComm<C, T> && (D::host_memory || StreamOverlappingComm<C>);

    std::size_t bucket_elements() const {
        if constexpr (OverlappingComm<C, T>) return std::max<std::size_t>(1, comm_.bucket_bytes() / sizeof(T));
        else return 1;
    }

    // The sums over x, this rank's rows of the full batch or of a mini-batch (gathered), in the
    // overlapped order (Backprop::accumulate_overlapped): each bucket of the gradient, from its
    // end towards its start, is summed over ranks as soon as backprop has finished it, the
    // cost's sum as soon as forward has. Bucket boundaries follow from the layer sizes and the
    // bucket size alone, never from timing, so every rank starts the same sums in the same order
    // (a rank that holds none of a mini-batch's rows too). Stage timing: the wait for the sums
    // after backprop is the reduction; the time they ran beside backprop is `overlapped`. On a
    // device stream (pnn::Nccl) the sums are queued behind the kernels that finish their bucket
    // and the update is queued behind the sums: nothing waits on the host but the cost, summed
    // after backprop.
    double overlapped_sums(MatrixRef<const T> x, const int* y, T* grad) {
        if constexpr (overlaps_here) {
            const std::size_t p = net_.parameter_count(), bucket = bucket_elements();
            struct Buckets {
                const C& comm;
                StageClock& clock;
                T* grad;
                std::size_t unsent;  // grad[0, unsent) is not yet being summed
                std::size_t bucket;
                double& cost;  // overlapped_cost_: summed in place, at an address that stays put
                StageClock::clock::time_point first{}, done{};
                void cost_ready(typename Backprop<D, T>::QueuedCost read) {
                    if constexpr (!D::host_memory) return;  // summed after backprop, not waited for here
                    cost = read();
                    comm.begin_sum(&cost, 1);
                }
                void ready(std::size_t from) {
                    if (unsent - from < bucket && from > 0) return;
                    comm.begin_sum(grad + from, unsent - from);
                    unsent = from;
                    if (!clock.recording()) return;
                    if (first == StageClock::clock::time_point{}) first = StageClock::clock::now();
                    done = {};
                }
                void poll() {
                    comm.progress();
                    if (clock.recording() && done == StageClock::clock::time_point{} && comm.sums_done())
                        done = StageClock::clock::now();
                }
            } buckets{comm_, clock_, grad, p, bucket, overlapped_cost_};
            overlapped_cost_ = 0;
            if (clock_.summing()) clock_.times.rows += x.rows;
            dev_.fill(grad, p, T(0));
            const double local_cost = bp_.accumulate_overlapped(dev_.data(theta_), x, y, grad, bucket, buckets);
            if (clock_.summing()) {  // from the first sum's start to backprop's end, or to when all were done
                const auto end = buckets.done == StageClock::clock::time_point{} ? StageClock::clock::now() : buckets.done;
                clock_.times.overlapped += std::chrono::duration<double>(end - buckets.first).count();
            }
            comm_.end_sums();
            if constexpr (!D::host_memory) {
                buckets.cost = local_cost;
                comm_.sum(&buckets.cost, 1);
            }
            return buckets.cost;
        } else {
            return full_batch(x, y, grad);
        }
    }

    // The full batch's sums (the gradient's into grad when not null; the cost's returned). Each
    // step queues the same kernels on the same buffers, so the device may record them once and
    // replay the record (Cuda: a CUDA graph, one launch where the seed's small step would spend
    // more time launching its dozens of kernels than running them). Not while stages are timed:
    // timing a stage waits for the device in between.
    double full_batch(MatrixRef<const T> x, const int* y, T* grad) {
        if (clock_.summing()) clock_.times.rows += x.rows;
        auto step = [&] {
            if (grad) dev_.fill(grad, net_.parameter_count(), T(0));
            bp_.queue(dev_.data(theta_), x, y, grad);
        };
        const ReplayKey key{x.data, x.rows, x.cols, y, grad, dev_.data(theta_)};
        if (!grad || clock_.recording()) {
            step();
        } else {
            if (!(key == replay_key_)) {
                replay_.reset();
                replay_key_ = key;
            }
            replay_.run(dev_, step);
        }
        return bp_.queued_cost();
    }

    // Runs f(q, host_memory) on the n device elements at p (room elements of space): for a
    // device whose memory is the host's, on p itself; for one whose memory is not (Cuda) and
    // more than one rank, on p too when the communicator reads device memory (a CUDA-aware MPI),
    // once the device's queued work is done, else through a host buffer, bringing back what f
    // wrote.
    template <class F>
    void on_host(T* p, std::size_t n, std::size_t room, F&& f) {
        if constexpr (D::host_memory) {
            f(p, true);
        } else {
            if (comm_.size() == 1) return;  // over one rank, sums and broadcasts are the identity
            if (comm_.reads_device_memory()) {
                dev_.synchronize();
                f(p, false);
                return;
            }
            host_stage_.resize(room);
            dev_.copy_out(host_stage_.data(), p, n);
            f(host_stage_.data(), true);
            dev_.copy_in(p, host_stage_.data(), n);
        }
    }

    // The reproducible mode's sums: the rows are cut into blocks of R (of the dataset, or of the
    // batch's positions), each block's sums are a leaf of one fixed tree, combined on every rank
    // (pnn/comm/tree_sum.hpp). This rank computes whole blocks: its rows must start at a block
    // boundary (Mpi::first_row gives such shares), and for mini-batches every rank needs every
    // row, since a batch's blocks draw rows from anywhere in the dataset.
    double reproducible_sums(const Resident& r, const Batching* batch, bool with_gradient, std::size_t& m) {
        const Shard<T>& s = r.shard;
        const MatrixRef<const T> x = r.x.view();
        const int* y = r.y.view().data;
        const std::size_t R = comm_.reproducible_rows(), p = with_gradient ? net_.parameter_count() : 0;
        auto leaf = [&] {
            T* g = with_gradient ? tree_.leaf() : nullptr;
            if (g) dev_.fill(g, p, T(0));
            return g;
        };
        if (!batch) {
            m = s.global_rows;
            agree_on_checks("reproducible mode", [&] {
                if (s.offset % R != 0 || ((s.offset + s.rows()) % R != 0 && s.offset + s.rows() != m))
                    detail::fail("reproducible mode: expected this rank's rows to be whole blocks of ", R,
                                 " rows, found rows [", s.offset, ", ", s.offset + s.rows(),
                                 "); give each rank the rows [first_row(m, r), first_row(m, r + 1))");
            });
            tree_.reset((m + R - 1) / R, p);
            for (std::size_t lo = 0; lo < s.rows(); lo += R) {
                T* g = leaf();
                if (clock_.summing()) clock_.times.rows += std::min(R, s.rows() - lo);
                const double cost = bp_.accumulate(dev_.data(theta_), x.rows_from(lo, std::min(R, s.rows() - lo)), y + lo, g);
                tree_.push((s.offset + lo) / R, cost);
            }
        } else {
            if (!s.whole_y)
                detail::fail("reproducible mode: mini-batches need the whole dataset on every rank, found rows [",
                             s.offset, ", ", s.offset + s.rows(), ") of ", s.global_rows);
            const Shard<T> all = every_row(r);
            const auto [lo, hi] = batch_positions(s.global_rows, *batch);
            m = hi - lo;
            const std::size_t blocks = (m + R - 1) / R, ranks = std::size_t(comm_.size()),
                              me = std::size_t(comm_.rank());
            tree_.reset(blocks, p);
            for (std::size_t b = even_split(blocks, ranks, me); b < even_split(blocks, ranks, me + 1); ++b) {
                T* g = leaf();
                const double cost = local_rows(all, all.x, all.y, lo + b * R, std::min(hi, lo + (b + 1) * R), g);
                tree_.push(b, cost);
            }
        }
        return tree_.finish(comm_, dev_.data(grad_));
    }

    // From the sum over m samples (all ranks') to the gradient: / m, plus the L2 term.
    void finish_gradient(std::size_t m, double lambda) {
        const fn::finish_gradient<T> f = detail::finishing<T>(m, lambda);
        dev_.finish_gradient(dev_.data(grad_), dev_.data(mask_), dev_.data(theta_), net_.parameter_count(), f.inv_m,
                             f.lambda_over_m);
    }

    // The next mini-batch: positions [t B, (t+1) B) of this epoch's sample order (the last batch
    // of an epoch holds the remainder), the order drawn when the epoch begins.
    std::pair<std::size_t, std::size_t> batch_positions(std::size_t all, const Batching& opt) {
        const std::size_t b = opt.batch_size;
        const std::size_t per_epoch = (all + b - 1) / b;
        const std::size_t epoch = step_ / per_epoch, t = step_ % per_epoch;
        if (epoch != order_epoch_ || order_.size() != all || opt.seed != order_seed_) {
            epoch_order(order_, all, opt.seed, epoch);
            order_epoch_ = epoch;
            order_seed_ = opt.seed;
        }
        return {t * b, std::min(all, t * b + b)};
    }

    // Where this rank finds its rows of the mini-batch at order positions [lo, hi): where it
    // holds every row at no cost (host memory), an even share of the positions, so that every
    // rank computes as many rows (within one) and none waits for another at the sum; else its
    // shard, of whose rows it computes those the batch draws (a share that varies from step to
    // step: of 128 rows drawn at random over 2 ranks, the busier rank computes 68.5 on average).
    // The batch is the same either way, so the model is too.
    struct MiniBatchRows {
        Shard<T> rows;
        std::size_t lo, hi;  // the order positions whose rows (those `rows` holds) this rank computes
    };
    MiniBatchRows mini_batch_rows(const Resident& r, std::size_t lo, std::size_t hi) const {
        if (!D::host_memory || !r.shard.whole_y) return {r.shard, lo, hi};
        const std::size_t n = hi - lo, ranks = std::size_t(comm_.size()), me = std::size_t(comm_.rank());
        return {every_row(r), lo + even_split(n, ranks, me), lo + even_split(n, ranks, me + 1)};
    }
    // Every row of the dataset, as the device holds them (where resident() uploaded them).
    static Shard<T> every_row(const Resident& r) {
        Shard<T> all = r.shard;
        all.x = r.whole_x.view();
        all.y = r.whole_y.view().data;
        all.offset = 0;
        return all;
    }

    // Adds the sums over the samples at order positions [lo, hi) that this rank computes (the
    // gradient's into grad when not null); returns the cost's. Rows go to the device one block
    // at a time, in the batch's order; where rows are moved to even shares, gathered first.
    double local_rows(const Shard<T>& s, MatrixRef<const T> x, const int* y, std::size_t lo, std::size_t hi, T* grad) {
        if (moves_rows(s)) {
            const MatrixRef<const T> share = gather_even_share(s, lo, hi);
            if (clock_.summing()) clock_.times.rows += share.rows;
            return bp_.accumulate(dev_.data(theta_), share, dev_.data(batch_y_), grad);
        }
        double sum = 0;
        for_local_blocks(s, lo, hi, [&](const std::size_t* index, std::size_t count) {
            if (clock_.summing()) clock_.times.rows += count;
            sum += bp_.accumulate_rows(dev_.data(theta_), x, y, index, count, grad);
        });
        return sum;
    }

    // Calls f(index, count) for the samples at order positions [lo, hi) that this rank holds, a
    // block of rows at a time, in the batch's order: index (device memory) holds their rows in
    // the shard.
    template <class F>
    void for_local_blocks(const Shard<T>& s, std::size_t lo, std::size_t hi, F&& f) {
        local_index_.clear();
        auto flush = [&] {
            dev_.copy_in(dev_.data(batch_index_), local_index_.data(), local_index_.size());
            f(const_cast<const std::size_t*>(dev_.data(batch_index_)), local_index_.size());
            local_index_.clear();
        };
        for (std::size_t k = lo; k < hi; ++k) {
            if (!s.owns(order_[k])) continue;
            local_index_.push_back(order_[k] - s.offset);
            if (local_index_.size() == bp_.block_rows()) flush();
        }
        if (!local_index_.empty()) flush();
    }

    // This rank's rows of the mini-batch at order positions [lo, hi), gathered into batch_x_ and
    // batch_y_ in the batch's order: the overlapped order carries a batch's rows forward
    // together, so they must lie together.
    MatrixRef<const T> gather_batch(const Shard<T>& s, MatrixRef<const T> x, const int* y, std::size_t lo, std::size_t hi) {
        if (moves_rows(s)) return gather_even_share(s, lo, hi);
        std::size_t rows = 0;
        for_local_blocks(s, lo, hi, [&](const std::size_t* index, std::size_t count) {
            dev_.gather_rows(x, y, index, MatrixRef<T>{dev_.data(batch_x_) + rows * x.cols, count, x.cols},
                             dev_.data(batch_y_) + rows);
            rows += count;
        });
        return {dev_.data(batch_x_), rows, x.cols};
    }

    // Whether a batch's rows are moved so that every rank computes an even share
    // (pnn/train/batch_shares.hpp): a communicator that can move them, and asked to, over more
    // than one rank, each holding a shard of its own, in host memory.
    bool moves_rows(const Shard<T>& s) const {
        if constexpr (moves_rows_here)
            return comm_.even_batch_shares() && !s.whole_y && s.starts.size() == std::size_t(comm_.size()) + 1;
        else
            return false;
    }
    static constexpr bool moves_rows_here = D::host_memory && RowMovingComm<C, T>;

    // This rank's even share of the mini-batch at order positions [lo, hi), its own rows first,
    // then those received, gathered into batch_x_ and batch_y_ (room: make_batch_room).
    MatrixRef<const T> gather_even_share(const Shard<T>& s, std::size_t lo, std::size_t hi) {
        const std::size_t cols = net_.inputs();
        if constexpr (moves_rows_here) {
            // (should a move fail to start, those started are waited for before the buffers may go)
            struct Wait {
                Trainer& t;
                ~Wait() {
                    if (t.moves_.pending()) try {
                            t.comm_.end_row_moves();
                        } catch (...) {
                        }
                }
            } wait{*this};
            moves_.start(comm_, s, order_, lo, hi, cols, dev_.data(batch_x_), dev_.data(batch_y_));
            return {dev_.data(batch_x_), moves_.finish(comm_), cols};
        } else {
            return {dev_.data(batch_x_), 0, cols};
        }
    }

    // Room in batch_x_ and batch_y_ for a mini-batch of `rows` rows of `cols` features.
    void make_batch_room(std::size_t rows, std::size_t cols) {
        if (rows * cols <= batch_x_room_ && rows <= batch_y_room_) return;
        batch_x_ = dev_.template make_buffer<T>(rows * cols);
        batch_y_ = dev_.template make_buffer<int>(rows);
        batch_x_room_ = rows * cols;
        batch_y_room_ = rows;
    }

    // Identifies the net's shape, units and element type, for checking that all ranks agree on it.
    std::uint64_t shape_hash() const {
        std::uint64_t h = detail::splitmix64(sizeof(T));
        for (std::size_t units : net_.sizes()) h = detail::splitmix64(h ^ units);
        for (Activation a : net_.activations()) h = detail::splitmix64(h ^ (0x100 + std::size_t(a)));
        return detail::splitmix64(h ^ (0x200 + std::size_t(net_.output())));
    }

    void sync_net() { dev_.copy_out(net_.parameters(), dev_.data(theta_), net_.parameter_count()); }

    // A checkpoint's net must be this trainer's: same element type, sizes and units.
    void check_matches(const CheckpointHeader& s, const std::string& path) const {
        auto name = [](std::uint32_t bytes) { return bytes == 4 ? "float32" : "float64"; };
        if (s.element_bytes != sizeof(T))
            detail::fail(path, ": a ", name(s.element_bytes), " checkpoint, but this trainer trains in ",
                         name(std::uint32_t(sizeof(T))), " (load it into a Trainer of Mlp<",
                         s.element_bytes == 4 ? "float" : "double", ">)");
        if (s.sizes != net_.sizes()) {
            auto text = [](const std::vector<std::size_t>& v) {
                std::string t;
                for (std::size_t x : v) {
                    if (!t.empty()) t += '-';
                    t += std::to_string(x);
                }
                return t;
            };
            detail::fail(path, ": a checkpoint of a ", text(s.sizes), " net, but this trainer's net is ", text(net_.sizes()));
        }
        if (s.activations != net_.activations() || s.output != net_.output()) {
            auto units = [](const std::vector<Activation>& hidden, Output out) {
                const std::string t = names_of(hidden);
                return (t.empty() ? std::string("no hidden") : t + " hidden") + " units and a " + std::string(name_of(out)) + " output";
            };
            detail::fail(path, ": a checkpoint of a net with ", units(s.activations, s.output), ", but this trainer's net has ",
                         units(net_.activations(), net_.output()));
        }
    }

    Net net_;
    C comm_;
    D dev_;
    StageClock clock_;
    bool record_ = false;
    Backprop<D, T> bp_;
    TreeSum<D, T> tree_{dev_, 0};  // the reproducible mode's sums
    typename D::template buffer<T> theta_, grad_, mask_;
    OptimizerState<D, T> optimizer_{dev_, net_.parameter_count()};
    // The part of the parameters the last sums() summed the gradient over (the whole, or this
    // rank's where the update is sharded), and whether the optimizer's state is current only on
    // that part (after sharded updates; gather_optimizer_state makes it whole again).
    Part summed_{0, net_.parameter_count()};
    bool state_sharded_ = false;
    typename D::template buffer<std::size_t> batch_index_;
    // A mini-batch's rows gathered together, for the overlapped order (made by fit when needed).
    typename D::template buffer<T> batch_x_;
    typename D::template buffer<int> batch_y_;
    std::size_t batch_x_room_ = 0, batch_y_room_ = 0;
    // The overlapped order's cost, summed over ranks in place: a member, not a local, as the
    // buffers of begin_sum must stay put (pnn::Mpi::begin_sum).
    double overlapped_cost_ = 0;
    OverlapChoice overlap_choice_[2];  // the full batch's order, and mini-batches'
    std::size_t step_ = 0;
    std::vector<std::size_t> order_;  // this epoch's sample order (mini-batch only)
    std::size_t order_epoch_ = std::size_t(-1);
    std::uint64_t order_seed_ = 0;
    Optimizer settings_;  // the last fit's, for checkpoints
    std::vector<std::size_t> local_index_;
    detail::ShareMoves<T> moves_;  // a mini-batch's rows moved to even shares (moves_rows)
    // The recorded full-batch step, and the buffers it was recorded on.
    struct ReplayKey {
        const T* x = nullptr;
        std::size_t rows = 0, cols = 0;
        const int* y = nullptr;
        const T* grad = nullptr;
        const T* theta = nullptr;
        bool operator==(const ReplayKey&) const = default;
    };
    typename D::Replay replay_;
    ReplayKey replay_key_;
    typename D::template host_buffer<T> host_stage_;  // what a communicator reads of device memory (on_host)
};

}  // namespace pnn
