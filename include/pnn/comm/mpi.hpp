// defines: pnn::Mpi, the communicator that trains one model over the ranks of an MPI
// communicator (Open MPI), and pnn::MpiSession, an optional MPI_Init/MPI_Finalize guard.
//
// The seed scattered the data every iteration, gathered the gradients to rank 0, averaged them
// there and broadcast the weights back. pnn::Mpi splits the data once per call (MPI_Scatterv, so
// any sample count works with any rank count), sums the one contiguous gradient buffer with one
// MPI_Allreduce (the default) or, as the seed did, reduces it to rank 0, updates there and
// broadcasts the weights (Reduction::gather_bcast).
#pragma once
#include <mpi.h>
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>  // Open MPI's MPIX_Query_cuda_support
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "pnn/comm/comm.hpp"
#include "pnn/comm/mpi_check.hpp"
#include "pnn/comm/node_sum.hpp"
#include "pnn/comm/watchdog.hpp"
#include "pnn/data/dataset.hpp"
#include "pnn/error.hpp"
#include "pnn/simd/level.hpp"
#include "pnn/util/memory.hpp"

namespace pnn {

// How the gradient reaches the weights.
enum class Reduction {
    allreduce,     // MPI_Allreduce of the gradient; every rank applies the same update
    gather_bcast,  // the seed's way: reduce to rank 0, update there, MPI_Bcast the weights
};

// Where the rows of a dataset are when a collective call receives it.
enum class Placement {
    automatic,  // every rank passes the whole dataset (each takes its rows, no traffic), or
                // rank 0 passes it and the others an empty one (rank 0 scatters it)
    sharded,    // each rank passes only its own rows, in rank order
};

namespace detail {
template <class T>
MPI_Datatype mpi_type() {
    if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
    else if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
    else if constexpr (std::is_same_v<T, int>) return MPI_INT;
    else if constexpr (std::is_same_v<T, std::uint64_t> || (std::is_same_v<T, std::size_t> && sizeof(T) == 8))
        return MPI_UINT64_T;
    else static_assert(!sizeof(T), "no MPI type for this element type");
}

// Whether the MPI library reads and writes GPU memory itself: built CUDA-aware, and saying so
// at run time (a CUDA-aware build may run where the transport is not). Debian's Open MPI is not.
inline bool mpi_reads_device_memory() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
    return MPIX_Query_cuda_support() == 1;
#else
    return false;
#endif
}

// A 64-bit fingerprint of n bytes, to tell whether ranks hold the same rows (not a defence
// against crafted input). Four independent lanes of multiply-xorshift over 8-byte words keep it
// near memory speed: about 3 ms for the seed's 16 MB here.
inline std::uint64_t fingerprint(const void* bytes, std::size_t n, std::uint64_t h0 = 0) {
    constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
    const auto* p = static_cast<const unsigned char*>(bytes);
    std::uint64_t lane[4] = {h0 ^ 1, h0 ^ 2, h0 ^ 3, h0 ^ 4};
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 4; ++l) {
            std::uint64_t w;
            std::memcpy(&w, p + i + 8 * l, 8);
            lane[l] = (lane[l] ^ w) * k;
            lane[l] ^= lane[l] >> 29;
        }
    std::uint64_t h = n;
    for (std::uint64_t v : lane) h = (h ^ v) * k;
    for (; i < n; ++i) h = (h ^ p[i]) * k;
    return h ^ (h >> 32);
}

// The most elements one MPI call carries. MPI's counts and displacements are int, so a larger
// transfer goes in pieces of at most this many (half of INT_MAX, so that a count plus a
// displacement of one piece cannot overflow either). Tests lower it to walk the piecewise paths
// with small data; every rank must use the same value.
inline std::size_t& mpi_piece_limit() {
    static std::size_t most = std::size_t(std::numeric_limits<int>::max()) / 2;
    return most;
}

// Splits n elements into pieces an MPI count can hold: f(offset, count) for each.
template <class F>
void in_int_pieces(std::size_t n, F&& f) {
    const std::size_t most = std::max<std::size_t>(1, mpi_piece_limit());
    for (std::size_t at = 0; at < n; at += most) f(at, int(std::min(most, n - at)));
}
}  // namespace detail

// MPI_Init on construction (with thread support "funneled") unless MPI is already initialised,
// MPI_Finalize on destruction if it initialised. For programs that want MPI's lifetime tied to
// a scope; others call MPI_Init and MPI_Finalize themselves.
class MpiSession {
public:
    MpiSession(int* argc, char*** argv) {
        int ready = 0;
        MPI_Initialized(&ready);
        if (!ready) {
            int provided = 0;
            detail::mpi_check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
            owner_ = true;
        }
    }
    ~MpiSession() {
        int done = 0;
        MPI_Finalized(&done);
        if (owner_ && !done) MPI_Finalize();
    }
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;

private:
    bool owner_ = false;
};

struct MpiOptions {
    Reduction reduction = Reduction::allreduce;
    Placement placement = Placement::automatic;
    // Rows per block of the reproducible mode (0 = off): sums are combined in one fixed tree over
    // blocks of this many rows (pnn/comm/tree_sum.hpp), so that the weights are bit-for-bit the
    // same on any number of ranks, and equal to Local's with the same block. Shares of the data
    // are then whole blocks; the reduction strategy is an allgather of the tree's partial sums.
    std::size_t reproducible_block = 0;
    // How long one collective call may wait for its peers before the job is ended (a host cut
    // off without failing); 0 = wait forever. See pnn/comm/watchdog.hpp.
    std::chrono::milliseconds watchdog = std::chrono::minutes(5);
    // Hand GPU buffers straight to an MPI that is CUDA-aware (MPIX_Query_cuda_support); false:
    // stage them through pinned host memory even then.
    bool device_buffers = true;
    // With allreduce: sum the gradient in buckets while backprop still computes (each bucket's
    // non-blocking sum starts as soon as backprop has finished it; pnn/nn/backprop.hpp's
    // overlapped order). false: one sum of the whole gradient after backprop, as before.
    bool overlap = true;
    // With overlap on, on CPUs: whether a fit's first steps try the blocked and the overlapped
    // order in turn and keep the faster (pnn/train/overlap_choice.hpp: the overlapped order's
    // products are slower, which a fast link does not repay). false: always overlap.
    bool overlap_trial = true;
    // Bytes per bucket of the overlapped sum (0 = default_bucket_bytes). Smaller buckets leave
    // less of the sum to wait for after backprop ends (the last bucket's transfer) but cost one
    // collective's latency each and cut the gradient products into narrower pieces.
    std::size_t bucket_bytes = 0;
    // Where every rank runs on one node: sum the gradient (blocked order, host memory) through
    // the node's shared memory, as a reduce-scatter in place and a copy of every part
    // (pnn/comm/node_sum.hpp), instead of MPI_Allreduce. false: MPI_Allreduce always.
    bool node_sum = true;
    // With the node sum: each rank updates only its part of the weights and of the optimizer's
    // state, from its part of the summed gradient, and the updated parts are then shared through
    // the same memory (Mpi::reduce_gradient_part). The update's memory traffic and the copy of the
    // summed gradient to every rank shrink by the rank count; the weights are the same bits.
    // false: every rank updates all of them.
    bool sharded_update = true;
    // Where each rank holds only its own rows (Placement::sharded, or rank 0's rows scattered)
    // and the memory is the host's: the ranks that hold more than an even share of a
    // mini-batch's rows send the surplus rows to those that hold fewer (point to point, before
    // the step's rows are computed), so that no step waits for a rank that drew more rows
    // (pnn/train/batch_shares.hpp). false: each rank computes the batch's rows it holds.
    bool even_batch_shares = true;
    // 128 KiB: benchmarks/overlap.sh (784-1024-1024-10 float32, 2 ranks over a 1 Gbit/s link,
    // 2-core AMD EPYC, 2026-12-06) put the step at 1.04-1.08x the overlap limit with 128 KiB,
    // 1.10-1.13x with 256 KiB, 1.17x with 512 KiB and 1.25x with 1 MiB: Open MPI moves a
    // bucket only while polled, so the smaller the buckets, the less is left after backprop.
    // Narrower chunks make the products slower, which the trial steps weigh (overlap_trial): on
    // a fast link they keep the blocked order. A gradient of one bucket or less (the seed's
    // 82 KB) always takes the blocked order.
    static constexpr std::size_t default_bucket_bytes = std::size_t(128) << 10;
};

class Mpi {
public:
    using Options = MpiOptions;

    // pnn works on its own duplicate of comm, so its messages never mix with the program's.
    explicit Mpi(MPI_Comm comm = MPI_COMM_WORLD, Options options = {}) : options_(options) {
        int ready = 0;
        MPI_Initialized(&ready);
        if (!ready) detail::fail("pnn::Mpi: MPI is not initialised; call MPI_Init (or make a pnn::MpiSession) first");
        auto handle = std::make_shared<Handle>();
        detail::mpi_check(MPI_Comm_dup(comm, &handle->comm), "MPI_Comm_dup");
        // Errors come back as codes that pnn turns into pnn::error, instead of aborting the job
        // from inside MPI with no word of which call failed.
        MPI_Comm_set_errhandler(handle->comm, MPI_ERRORS_RETURN);
        MPI_Comm_rank(handle->comm, &rank_);
        MPI_Comm_size(handle->comm, &size_);
        handle->watchdog = std::make_unique<Watchdog>(options.watchdog, rank_);
        handle->reads_device_memory = options.device_buffers && detail::mpi_reads_device_memory();
        handle_ = std::move(handle);
        agree_cpu_kernels(simd::highest_supported());
    }

    // Makes every rank use the same level of CPU kernels (pnn/simd/level.hpp), so that sums
    // round alike on every rank: the one asked for (use_cpu_kernels or PNN_CPU, the same on
    // every rank, and one every rank has), else the highest every rank has. Collective; a
    // request some rank cannot meet is a pnn::error on every rank. `highest` is this rank's own
    // (a parameter so that a test can play a rank with a smaller CPU). Returns the level.
    CpuKernels agree_cpu_kernels(CpuKernels highest) const {
        std::string problem;
        int request = -1;
        try {
            request = simd::requested_level();
        } catch (const error& e) {
            problem = e.what();
        }
        // the first rank with a bad PNN_CPU (size_: none) reports it; the others fail too
        int first_bad = problem.empty() ? size_ : rank_;
        detail::mpi_check(MPI_Allreduce(MPI_IN_PLACE, &first_bad, 1, MPI_INT, MPI_MIN, handle_->comm), "MPI_Allreduce");
        if (first_bad < size_) {
            if (!problem.empty()) throw error(problem, rank_ != first_bad);
            throw error(detail::message("PNN_CPU: refused on rank ", first_bad), true);
        }
        int lowest = int(highest), low_request = request, high_request = request;
        detail::mpi_check(MPI_Allreduce(MPI_IN_PLACE, &lowest, 1, MPI_INT, MPI_MIN, handle_->comm), "MPI_Allreduce");
        detail::mpi_check(MPI_Allreduce(MPI_IN_PLACE, &low_request, 1, MPI_INT, MPI_MIN, handle_->comm),
                          "MPI_Allreduce");
        detail::mpi_check(MPI_Allreduce(MPI_IN_PLACE, &high_request, 1, MPI_INT, MPI_MAX, handle_->comm),
                          "MPI_Allreduce");
        if (high_request >= 0 && low_request != high_request)
            detail::fail_everywhere(rank_, "PNN_CPU: expected the same level on every rank, found ",
                                    low_request < 0 ? std::string("none") : std::string(name_of(CpuKernels(low_request))),
                                    " on one rank and ", name_of(CpuKernels(high_request)), " on another");
        if (high_request > lowest)
            detail::fail_everywhere(rank_, "PNN_CPU: ", name_of(CpuKernels(high_request)),
                                    " was asked for, but not every rank's CPU has it: the highest level all ranks have is ",
                                    name_of(CpuKernels(lowest)));
        const int level = high_request >= 0 ? high_request : lowest;
        simd::chosen().store(level);
        return CpuKernels(level);
    }
    Mpi(MPI_Comm comm, Reduction reduction) : Mpi(comm, Options{reduction, Placement::automatic}) {}

    int rank() const { return rank_; }
    int size() const { return size_; }
    MPI_Comm communicator() const { return handle_->comm; }
    const Options& options() const { return options_; }

    // The rows [first_row(r), first_row(r + 1)) of m go to rank r: as even as possible, the
    // first ranks one row more; in whole blocks in the reproducible mode.
    std::size_t first_row(std::size_t m, int r) const {
        return even_split(m, std::size_t(size_), std::size_t(r), options_.reproducible_block);
    }
    std::size_t reproducible_rows() const { return options_.reproducible_block; }

    void allgather_bytes(const std::vector<unsigned char>& in, std::vector<unsigned char>& out) const {
        Watchdog::Watch watch(*handle_->watchdog, "a gather of every rank's bytes (MPI_Allgatherv or MPI_Bcast)");
        const std::vector<std::uint64_t> sizes = allgather(in.size());
        std::vector<std::size_t> at(sizes.size() + 1, 0);
        for (std::size_t r = 0; r < sizes.size(); ++r) at[r + 1] = at[r] + std::size_t(sizes[r]);
        out.resize(at.back());
        if (at.back() <= detail::mpi_piece_limit()) {  // the common case: small, one call
            std::vector<int> counts(sizes.size()), displs(sizes.size());
            for (std::size_t r = 0; r < sizes.size(); ++r) {
                counts[r] = int(sizes[r]);
                displs[r] = int(at[r]);
            }
            detail::mpi_check(MPI_Allgatherv(in.data(), int(in.size()), MPI_BYTE, out.data(), counts.data(),
                                             displs.data(), MPI_BYTE, handle_->comm),
                              "MPI_Allgatherv");
            return;
        }
        // Past an int's reach (a checkpoint over 2 GiB): each rank's bytes in turn, broadcast
        // from it in pieces.
        if (!in.empty()) std::memcpy(out.data() + at[std::size_t(rank_)], in.data(), in.size());
        for (int r = 0; r < size_; ++r)
            detail::in_int_pieces(std::size_t(sizes[std::size_t(r)]), [&](std::size_t from, int count) {
                detail::mpi_check(MPI_Bcast(out.data() + at[std::size_t(r)] + from, count, MPI_BYTE, r, handle_->comm),
                                  "MPI_Bcast");
            });
    }

    // Every rank's bytes on rank 0 alone (a timeline's events: rank 0 writes them).
    void gather_bytes(const std::vector<unsigned char>& in, std::vector<unsigned char>& out,
                      std::vector<std::size_t>& sizes) const {
        Watchdog::Watch watch(*handle_->watchdog, "a gather of every rank's bytes to rank 0 (MPI_Gatherv or MPI_Recv)");
        const std::uint64_t mine = in.size();
        std::vector<std::uint64_t> counts(rank_ == 0 ? std::size_t(size_) : 0);
        detail::mpi_check(MPI_Gather(&mine, 1, MPI_UINT64_T, counts.data(), 1, MPI_UINT64_T, 0, handle_->comm), "MPI_Gather");
        std::uint64_t total = 0;
        for (std::uint64_t c : counts) total += c;
        detail::mpi_check(MPI_Bcast(&total, 1, MPI_UINT64_T, 0, handle_->comm), "MPI_Bcast");
        sizes.assign(counts.begin(), counts.end());
        std::vector<std::size_t> at(sizes.size() + 1, 0);
        for (std::size_t r = 0; r < sizes.size(); ++r) at[r + 1] = at[r] + sizes[r];
        out.assign(rank_ == 0 ? std::size_t(total) : 0, 0);
        if (total <= detail::mpi_piece_limit()) {
            std::vector<int> n(sizes.size()), displs(sizes.size());
            for (std::size_t r = 0; r < sizes.size(); ++r) n[r] = int(sizes[r]), displs[r] = int(at[r]);
            detail::mpi_check(MPI_Gatherv(in.data(), int(in.size()), MPI_BYTE, out.data(), n.data(), displs.data(), MPI_BYTE, 0,
                                          handle_->comm),
                              "MPI_Gatherv");
            return;
        }
        constexpr int tag = 2;
        if (rank_ != 0) {
            detail::in_int_pieces(in.size(), [&](std::size_t from, int count) {
                detail::mpi_check(MPI_Send(in.data() + from, count, MPI_BYTE, 0, tag, handle_->comm), "MPI_Send");
            });
            return;
        }
        if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
        for (int r = 1; r < size_; ++r)
            detail::in_int_pieces(sizes[std::size_t(r)], [&](std::size_t from, int count) {
                detail::mpi_check(MPI_Recv(out.data() + at[std::size_t(r)] + from, count, MPI_BYTE, r, tag, handle_->comm,
                                           MPI_STATUS_IGNORE),
                                  "MPI_Recv");
            });
    }

    template <class T>
    Shard<T> distribute(const Dataset<T>& data) const {
        Watchdog::Watch watch(*handle_->watchdog, "the data's distribution (MPI_Allgather, MPI_Scatterv or MPI_Send)");
        const std::uint64_t rows = data.size(), width = data.empty() ? 0 : data.features();
        std::vector<std::uint64_t> all_rows = allgather(rows), all_widths = allgather(width);
        std::uint64_t total = 0, common_width = 0;
        for (int r = 0; r < size_; ++r) {
            total += all_rows[std::size_t(r)];
            if (all_rows[std::size_t(r)] == 0) continue;
            if (common_width == 0) common_width = all_widths[std::size_t(r)];
            if (all_widths[std::size_t(r)] != common_width)
                detail::fail_everywhere(rank_, data.name(), ": expected every rank's rows to have the same width, found ", common_width,
                             " features on one rank and ", all_widths[std::size_t(r)], " on rank ", r);
        }
        if (options_.placement == Placement::sharded) {
            std::vector<std::size_t> starts(std::size_t(size_) + 1, 0);
            for (int r = 0; r < size_; ++r) starts[std::size_t(r) + 1] = starts[std::size_t(r)] + all_rows[std::size_t(r)];
            Shard<T> mine{data.x_ref(), data.labels_data(), starts[std::size_t(rank_)], total, nullptr};
            mine.starts = std::move(starts);
            return mine;
        }
        bool replicated = true, root_only = all_rows[0] > 0;
        for (int r = 1; r < size_; ++r) {
            replicated = replicated && all_rows[std::size_t(r)] == all_rows[0];
            root_only = root_only && all_rows[std::size_t(r)] == 0;
        }
        if (replicated) {
            // Every rank holds everything: take this rank's rows, no traffic. Equal counts are
            // also what ranks that each pass an equal shard of their own look like; taking
            // "this rank's rows" of those would train on a part of each shard, silently.
            if (size_ > 1) check_replicated(data);
            const std::size_t lo = first_row(rows, rank_), hi = first_row(rows, rank_ + 1);
            return {data.x_ref().rows_from(lo, hi - lo), data.labels_data() + lo, lo, rows, nullptr, data.x_ref(),
                    data.labels_data()};
        }
        if (!root_only && size_ > 1)
            detail::fail_everywhere(rank_, data.name(), ": expected the whole dataset on every rank, or on rank 0 alone (others empty), ",
                         "found ", rows, " rows on rank ", rank_, " and ", all_rows[0],
                         " on rank 0 (pass Placement::sharded if each rank holds its own rows)");
        return scatter(data, all_rows[0], std::size_t(common_width));
    }

    template <class T>
    void sum(T* p, std::size_t n) const {
        Watchdog::Watch watch(*handle_->watchdog, "a sum over ranks (MPI_Allreduce)");
        detail::in_int_pieces(n, [&](std::size_t at, int count) {
            detail::mpi_check(
                MPI_Allreduce(MPI_IN_PLACE, p + at, count, detail::mpi_type<T>(), MPI_SUM, handle_->comm),
                "MPI_Allreduce");
        });
    }

    template <class T>
    void broadcast(T* p, std::size_t n) const {
        Watchdog::Watch watch(*handle_->watchdog, "a broadcast (MPI_Bcast)");
        detail::in_int_pieces(n, [&](std::size_t at, int count) {
            detail::mpi_check(MPI_Bcast(p + at, count, detail::mpi_type<T>(), 0, handle_->comm), "MPI_Bcast");
        });
    }

    // One message for both where it can be: a double gradient carries the cost in its spare
    // element p[n] (one MPI_Allreduce of n + 1 doubles costs what one of n does; a second call
    // for the 8-byte cost cost as much again in latency). A float gradient cannot hold the cost
    // without rounding it, so it takes a second call. (An MPI_Iallreduce of the cost overlapped
    // with the gradient's measured slower here than two blocking calls.)
    // (p may be GPU memory, which the host must not touch, when host_memory is false: the cost
    // then takes the second call too.)
    template <class T>
    void reduce_gradient(T* p, std::size_t n, double& cost, bool everywhere, bool host_memory = true) const {
        Watchdog::Watch watch(*handle_->watchdog,
                              "the gradient's reduction (MPI_Allreduce, MPI_Reduce, or MPI_Barrier of the sum through shared memory)");
        if (everywhere || !seed_strategy()) {
            if (host_memory && sums_through_node_memory() &&
                handle_->node.sum(handle_->comm, p, n, cost, [&] { barrier_unwatched(); }))
                return;
            if constexpr (std::is_same_v<T, double>) {
                if (host_memory) {
                    p[n] = cost;
                    sum(p, n + 1);
                    cost = p[n];
                    return;
                }
            }
            sum(p, n);
        } else {
            // The seed's Gather and sum at rank 0, as one MPI_Reduce.
            detail::in_int_pieces(n, [&](std::size_t at, int count) {
                void* send = rank_ == 0 ? MPI_IN_PLACE : static_cast<void*>(p + at);
                detail::mpi_check(MPI_Reduce(send, p + at, count, detail::mpi_type<T>(), MPI_SUM, 0, handle_->comm),
                                  "MPI_Reduce");
            });
        }
        sum(&cost, 1);
    }

    // An update sharded over ranks (pnn/comm/comm.hpp, PartSummingComm): as reduce_gradient(p,
    // n, cost, false), but where the ranks share one node's memory (and MpiOptions::sharded_update)
    // only this rank's part of the sum lands in p, [lo, hi) returned; elsewhere the whole sum, and
    // nothing returned (on every rank alike). The parts are the node sum's (pnn/comm/node_sum.hpp),
    // the same on every call for n; a small n leaves some ranks an empty part and one all of it.
    template <class T>
    std::optional<std::pair<std::size_t, std::size_t>> reduce_gradient_part(T* p, std::size_t n, double& cost) const {
        if (shards_update()) {
            Watchdog::Watch watch(*handle_->watchdog, "the gradient's reduction (MPI_Barrier of the sum through shared memory)");
            if (handle_->node.sum_part(handle_->comm, p, n, cost, [&] { barrier_unwatched(); }))
                return part_of(n);
        }
        reduce_gradient(p, n, cost, false);
        return std::nullopt;
    }
    // Every rank's part of p[0, n) (part r as reduce_gradient_part gave it on rank r) on every
    // rank: after a sharded update, the weights; before a checkpoint, the optimizer's state.
    template <class T>
    void share_parts(T* p, std::size_t n) const {
        Watchdog::Watch watch(*handle_->watchdog, "sharing the weights' parts (MPI_Barrier of shared memory, or MPI_Bcast)");
        if (sums_through_node_memory() && handle_->node.share_part(handle_->comm, p, n, [&] { barrier_unwatched(); }))
            return;
        for (int r = 0; r < size_; ++r) {  // (the memory could not be mapped: a broadcast a part)
            const std::size_t lo = detail::NodeSum::part(n, size_, r), hi = detail::NodeSum::part(n, size_, r + 1);
            detail::in_int_pieces(hi - lo, [&](std::size_t at, int count) {
                detail::mpi_check(MPI_Bcast(p + lo + at, count, detail::mpi_type<T>(), r, handle_->comm), "MPI_Bcast");
            });
        }
    }

    // The overlapped sum (pnn/comm/comm.hpp, OverlappingComm). Only the thread that trains calls
    // these; Open MPI's non-blocking collectives move only inside MPI calls, which is what
    // progress() is for (backprop calls it between row pieces).
    bool overlaps() const {
        return options_.overlap && options_.reduction == Reduction::allreduce && options_.reproducible_block == 0 &&
               size_ > 1;
    }
    bool overlap_trial() const { return options_.overlap_trial; }
    std::size_t bucket_bytes() const {
        return options_.bucket_bytes > 0 ? options_.bucket_bytes : Options::default_bucket_bytes;
    }
    // Starts the in-place sum of p[0, n) over ranks; p must not be touched until end_sums().
    // A bucket seen before (same buffer, count and type: every step's, full batch or mini-batch)
    // reuses its persistent request where the MPI has them (MPIX_Allreduce_init), so that a step
    // allocates nothing; else MPI_Iallreduce.
    //
    // Why the buffers must stay put, and forget_sums(): a persistent collective matches the
    // request made at the same point of every rank's sequence (Open MPI's libnbc gives it its
    // tag when it is made), so every rank must reuse or make a request at the same begin_sum.
    // Whether a rank reuses depends on the address it passes, so each rank's addresses must
    // repeat in the same pattern: the caller passes buffers that live as long as it sums into
    // them (the Trainer's gradient, and its cost's slot, never a stack variable: under
    // AddressSanitizer a frame's address differs between ranks), and calls forget_sums()
    // before they go, so that a buffer later made at the same address on one rank only cannot
    // reuse a request that the other ranks make anew (which hung mpi_test under ASan).
    template <class T>
    void begin_sum(T* p, std::size_t n) const {
        // (Starting is not waiting, but a transport may block in it; so may a test, below.)
        Watchdog::Watch watch(*handle_->watchdog, "the gradient's overlapped reduction (MPI_Start or MPI_Iallreduce of a bucket)");
        detail::in_int_pieces(n, [&](std::size_t at, int count) { handle_->start(p + at, count, detail::mpi_type<T>()); });
    }
    void progress() const {
        auto& active = handle_->active;
        if (active.empty()) return;
        Watchdog::Watch watch(*handle_->watchdog, "the gradient's overlapped reduction (MPI_Testall of its buckets)");
        int done = 0;
        detail::mpi_check(MPI_Testall(int(active.size()), active.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
        if (done) active.clear();
    }
    // Drops the persistent requests kept for the buffers passed so far (collective, as
    // begin_sum is: every rank calls it at the same point), after waiting for any in flight.
    void forget_sums() const {
        auto& active = handle_->active;
        if (!active.empty()) {
            Watchdog::Watch watch(*handle_->watchdog, "the gradient's overlapped reduction (MPI_Waitall of its buckets)");
            MPI_Waitall(int(active.size()), active.data(), MPI_STATUSES_IGNORE);  // (also on an error path)
            active.clear();
        }
        handle_->in_round = false;
        handle_->free_persistent();
    }
    // Moving a mini-batch's rows between ranks (pnn/comm/comm.hpp, RowMovingComm): point to
    // point, MPI_Isend and MPI_Irecv (labels and rows apart, rows in pieces past an MPI count:
    // messages between two ranks with one tag arrive in the order sent), waited for together.
    bool even_batch_shares() const { return options_.even_batch_shares && size_ > 1; }
    template <class T>
    void send_rows(int to, const T* x, const int* y, std::size_t rows, std::size_t cols) const {
        Watchdog::Watch watch(*handle_->watchdog, "moving a mini-batch's rows (MPI_Isend)");
        move_rows(to, const_cast<T*>(x), const_cast<int*>(y), rows, cols, true);
    }
    template <class T>
    void receive_rows(int from, T* x, int* y, std::size_t rows, std::size_t cols) const {
        Watchdog::Watch watch(*handle_->watchdog, "moving a mini-batch's rows (MPI_Irecv)");
        move_rows(from, x, y, rows, cols, false);
    }
    void end_row_moves() const {
        auto& moves = handle_->moves;
        if (moves.empty()) return;
        Watchdog::Watch watch(*handle_->watchdog, "moving a mini-batch's rows (MPI_Waitall)");
        const int status = MPI_Waitall(int(moves.size()), moves.data(), MPI_STATUSES_IGNORE);
        moves.clear();
        detail::mpi_check(status, "MPI_Waitall");
    }

    // Whether every started sum has completed (as of the last progress()).
    bool sums_done() const { return handle_->active.empty(); }
    // Waits for every started sum; the watchdog times it from here.
    void end_sums() const {
        auto& active = handle_->active;
        Watchdog::Watch watch(*handle_->watchdog, "the gradient's overlapped reduction (MPI_Waitall of its buckets)");
        detail::mpi_check(MPI_Waitall(int(active.size()), active.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
        active.clear();
        handle_->in_round = false;
    }

    // Whether reduce_gradient sums host memory through the node's shared memory
    // (pnn/comm/node_sum.hpp): MpiOptions::node_sum, more than one rank, every rank on this node
    // (collective the first time: it asks MPI_Comm_split_type), and no rank that failed to map
    // the memory (known after the first sum; MPI_Allreduce from then on).
    bool sums_through_node_memory() const {
        return options_.node_sum && size_ > 1 && handle_->node.whole_comm_on_one_node(handle_->comm) &&
               !handle_->node.unavailable();
    }

    void barrier() const {
        Watchdog::Watch watch(*handle_->watchdog, "a barrier (MPI_Barrier)");
        barrier_unwatched();
    }

    void at_step(std::uint64_t step) const { handle_->watchdog->at_step(step); }

    bool updates_weights() const { return !seed_strategy() || rank_ == 0; }
    bool reads_device_memory() const { return handle_->reads_device_memory; }
    bool shares_weights() const { return seed_strategy() && size_ > 1; }

    template <class T>
    void share_weights(T* p, std::size_t n) const {
        if (seed_strategy()) broadcast(p, n);
    }

    void agree(std::uint64_t value, const char* what) const {
        Watchdog::Watch watch(*handle_->watchdog, "the start-up agreement check (MPI_Allreduce)");
        if (!same_everywhere(value)) detail::fail_everywhere(rank_, "ranks disagree on ", what);
    }

protected:
    // The seed's reduce + update on rank 0 + bcast (not in the reproducible mode, whose tree sum
    // ends on every rank).
    bool seed_strategy() const {
        return options_.reduction == Reduction::gather_bcast && options_.reproducible_block == 0;
    }
    Watchdog& watchdog() const { return *handle_->watchdog; }
    // (inside a caller's watch)
    void barrier_unwatched() const { detail::mpi_check(MPI_Barrier(handle_->comm), "MPI_Barrier"); }
    // Whether reduce_gradient_part leaves each rank its part: the node sum, with the allreduce
    // strategy (the seed's updates on rank 0 alone; the reproducible mode sums elsewhere).
    bool shards_update() const {
        return options_.sharded_update && !seed_strategy() && options_.reproducible_block == 0 && sums_through_node_memory();
    }
    std::pair<std::size_t, std::size_t> part_of(std::size_t n) const {
        return {detail::NodeSum::part(n, size_, rank_), detail::NodeSum::part(n, size_, rank_ + 1)};
    }

private:

    // Owns the duplicate communicator and the watchdog; copies of an Mpi share them, the last
    // one frees them.
    struct Handle {
        MPI_Comm comm = MPI_COMM_NULL;
        std::unique_ptr<Watchdog> watchdog;
        bool reads_device_memory = false;
        detail::NodeSum node;  // the blocked sum through shared memory, where every rank is on one node
        // The overlapped sum's requests in flight, and the persistent ones kept for reuse.
        std::vector<MPI_Request> active;
        struct Persistent {
            void* p;
            int count;
            MPI_Datatype type;
            MPI_Request request;
        };
        std::vector<Persistent> persistent;
        static constexpr std::size_t most_persistent = 256;  // buckets of a few trainers
        // Between a round's first start and its end_sums. (Not "active is empty": progress()
        // empties it at a time that differs between ranks, and every choice below must be the
        // same on every rank.)
        bool in_round = false;
        // The mini-batch's row moves in flight (send_rows, receive_rows).
        std::vector<MPI_Request> moves;

        void start(void* p, int count, MPI_Datatype type) {
            const bool first_of_round = !in_round;
            in_round = true;
#ifdef OMPI_HAVE_MPI_EXT_PCOLLREQ
            Persistent* kept = nullptr;
            for (Persistent& k : persistent)
                if (k.p == p && k.count == count && k.type == type) kept = &k;
            if (!kept) {
                if (persistent.size() == most_persistent && first_of_round) free_persistent();
                if (persistent.size() < most_persistent) {
                    MPI_Request r;
                    detail::mpi_check(MPIX_Allreduce_init(MPI_IN_PLACE, p, count, type, MPI_SUM, comm, MPI_INFO_NULL, &r),
                                      "MPIX_Allreduce_init");
                    persistent.push_back({p, count, type, r});
                    kept = &persistent.back();
                }
            }
            if (kept) {
                detail::mpi_check(MPI_Start(&kept->request), "MPI_Start");
                active.push_back(kept->request);
                return;
            }
#endif
            MPI_Request r;
            detail::mpi_check(MPI_Iallreduce(MPI_IN_PLACE, p, count, type, MPI_SUM, comm, &r), "MPI_Iallreduce");
            active.push_back(r);
        }
        void free_persistent() {
            for (Persistent& k : persistent) MPI_Request_free(&k.request);
            persistent.clear();
        }
        ~Handle() {
            int done = 0;
            MPI_Finalized(&done);
            if (done) return;
            if (!active.empty()) MPI_Waitall(int(active.size()), active.data(), MPI_STATUSES_IGNORE);
            if (!moves.empty()) MPI_Waitall(int(moves.size()), moves.data(), MPI_STATUSES_IGNORE);
            free_persistent();
            if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
        }
    };

    // (inside a caller's watch) Starts one move's messages: labels, then the rows in pieces.
    template <class T>
    void move_rows(int peer, T* x, int* y, std::size_t rows, std::size_t cols, bool send) const {
        auto start = [&](void* p, int count, MPI_Datatype type, int tag) {
            MPI_Request r;
            detail::mpi_check(send ? MPI_Isend(p, count, type, peer, tag, handle_->comm, &r)
                                   : MPI_Irecv(p, count, type, peer, tag, handle_->comm, &r),
                              send ? "MPI_Isend" : "MPI_Irecv");
            handle_->moves.push_back(r);
        };
        detail::in_int_pieces(rows, [&](std::size_t at, int count) { start(y + at, count, MPI_INT, row_labels_tag); });
        detail::in_int_pieces(rows * cols, [&](std::size_t at, int count) { start(x + at, count, detail::mpi_type<T>(), row_values_tag); });
    }
    static constexpr int row_labels_tag = 7101, row_values_tag = 7102;

    std::vector<std::uint64_t> allgather(std::uint64_t v) const {
        auto all = std::vector<std::uint64_t>(std::size_t(size_));
        detail::mpi_check(MPI_Allgather(&v, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, handle_->comm),
                          "MPI_Allgather");
        return all;
    }

    // Whether every rank passed this value (collective: its minimum and maximum over ranks).
    bool same_everywhere(std::uint64_t value) const {
        std::uint64_t lo = value, hi = value;
        detail::mpi_check(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, handle_->comm), "MPI_Allreduce");
        detail::mpi_check(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, handle_->comm), "MPI_Allreduce");
        return lo == hi;
    }

    // Placement::automatic with the same row count on every rank: the rows must be the same too
    // (compared by fingerprint, one 8-byte allreduce pair).
    template <class T>
    void check_replicated(const Dataset<T>& data) const {
        const std::uint64_t mine = detail::fingerprint(data.labels_data(), data.size() * sizeof(int),
                                                       detail::fingerprint(data.x().data(), data.x().size() * sizeof(T)));
        if (!same_everywhere(mine))
            detail::fail_everywhere(rank_, data.name(), ": every rank passed ", data.size(),
                                    " rows, but not the same rows; with Placement::automatic equal counts mean "
                                    "every rank holds the whole dataset. Pass Placement::sharded if each rank "
                                    "holds its own rows");
    }

    // Rank 0's m rows of width n go out in even shares; this rank keeps its own.
    template <class T>
    Shard<T> scatter(const Dataset<T>& data, std::size_t m, std::size_t n) const {
        const std::size_t lo = first_row(m, rank_), hi = first_row(m, rank_ + 1);
        // (a failure here is this rank's alone: the watchdog stops the others)
        auto x = detail::allocating((hi - lo) * n, sizeof(T), data.name() + ": this rank's share of the rows",
                                    [&] { return xt::xtensor<T, 2>::from_shape({hi - lo, n}); });
        auto y = xt::xtensor<int, 1>::from_shape({hi - lo});
        const bool root = rank_ == 0;
        scatter_rows(root ? data.x().data() : nullptr, x.data(), m, n);
        scatter_rows(root ? data.y().data() : nullptr, y.data(), m, 1);
        auto storage = std::make_shared<const Dataset<T>>(std::move(x), std::move(y), data.name());
        Shard<T> mine{storage->x_ref(), storage->labels_data(), lo, m, storage};
        for (int r = 0; r <= size_; ++r) mine.starts.push_back(first_row(m, r));
        return mine;
    }

    // Rank r receives rows [first_row(m, r), first_row(m, r + 1)) of rank 0's m x width values
    // into mine: one MPI_Scatterv while every count and displacement fits an MPI count, else
    // (more than 2^30 values) rank 0 sends each rank its rows in pieces, in rank order.
    template <class U>
    void scatter_rows(const U* all, U* mine, std::size_t m, std::size_t width) const {
        const auto ranks = std::size_t(size_);
        const std::size_t own = (first_row(m, rank_ + 1) - first_row(m, rank_)) * width;
        if (m * width <= detail::mpi_piece_limit()) {
            std::vector<int> counts(ranks), displs(ranks);
            for (std::size_t r = 0; r < ranks; ++r) {
                counts[r] = int((first_row(m, int(r) + 1) - first_row(m, int(r))) * width);
                displs[r] = int(first_row(m, int(r)) * width);
            }
            detail::mpi_check(MPI_Scatterv(all, counts.data(), displs.data(), detail::mpi_type<U>(), mine, int(own),
                                           detail::mpi_type<U>(), 0, handle_->comm),
                              "MPI_Scatterv");
            return;
        }
        constexpr int tag = 1;
        if (rank_ != 0) {
            detail::in_int_pieces(own, [&](std::size_t at, int count) {
                detail::mpi_check(MPI_Recv(mine + at, count, detail::mpi_type<U>(), 0, tag, handle_->comm, MPI_STATUS_IGNORE),
                                  "MPI_Recv");
            });
            return;
        }
        if (own > 0) std::memcpy(mine, all, own * sizeof(U));
        for (int r = 1; r < size_; ++r) {
            const U* rows = all + first_row(m, r) * width;
            detail::in_int_pieces((first_row(m, r + 1) - first_row(m, r)) * width, [&](std::size_t at, int count) {
                detail::mpi_check(MPI_Send(rows + at, count, detail::mpi_type<U>(), r, tag, handle_->comm), "MPI_Send");
            });
        }
    }

    std::shared_ptr<Handle> handle_;
    Options options_;
    int rank_ = 0;
    int size_ = 1;
};

static_assert(Comm<Mpi>);
static_assert(OverlappingComm<Mpi, float> && OverlappingComm<Mpi, double>);

}  // namespace pnn
