// defines: pnn::detail::SharePlan and plan_shares, which rows of a mini-batch each rank hands to
// another so that every rank computes an even share of the batch, where each rank holds only its
// own rows (Placement::sharded, or rank 0's rows scattered).
//
// Why: a mini-batch draws its B rows at random from the whole dataset, so a rank that holds 1/R
// of the rows finds a binomial number of them in a batch, not B/R, and every step waits for the
// busiest rank. On average over many batches (a numpy draw of 200000), the busiest of 2 ranks
// holds 68.5 of 128 rows (1.07x an even share), of 4 ranks 37.9 (1.19x), of 8 ranks 21.9 (1.37x).
// Moving the surplus costs less: 4.5 rows a step on average over 2 ranks, 11.9 over 8 (784
// float features: 14 and 37 KB), and a message's latency before the step's rows are computed.
//
// The plan depends only on how many of the batch's rows each rank holds, which every rank counts
// alike from the batch's order and the shards' bounds: every rank makes the same plan, and the
// two ends of a move agree without a message. The batch, and so the model, is the same: only
// which rank sums a row's terms changes (the model is Local's within rounding, as with any split).
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "pnn/comm/comm.hpp"
#include "pnn/util/matrix_ref.hpp"

namespace pnn::detail {

struct RowMove {
    int peer = 0;          // the rank the rows go to (a send) or come from (a receive)
    std::size_t rows = 0;  // how many
};

// One rank's part of a batch's moves.
struct SharePlan {
    std::size_t keep = 0;           // how many of its own rows of the batch it computes: the first, in batch order
    std::vector<RowMove> sends;     // where the rest go, in batch order, a move at a time
    std::vector<RowMove> receives;  // the rows it computes for other ranks, in this order
    std::size_t received = 0;       // their count
};

// held[q]: how many of the batch's n rows rank q holds (n = their sum). Rank q's share is
// even_split's (n / R, the first n % R ranks one more); ranks over their share hand the surplus
// to ranks under theirs, both taken in rank order. Fills plan for rank `me` (its vectors keep
// their capacity: no allocation once they have grown).
inline void plan_shares(const std::vector<std::size_t>& held, std::size_t me, SharePlan& plan) {
    const std::size_t ranks = held.size();
    std::size_t n = 0;
    for (std::size_t h : held) n += h;
    auto share = [&](std::size_t q) { return even_split(n, ranks, q + 1) - even_split(n, ranks, q); };
    auto surplus = [&](std::size_t q) { return held[q] > share(q) ? held[q] - share(q) : 0; };
    auto deficit = [&](std::size_t q) { return held[q] < share(q) ? share(q) - held[q] : 0; };
    plan.keep = std::min(held[me], share(me));
    plan.sends.clear();
    plan.receives.clear();
    plan.received = 0;
    std::size_t from = 0, to = 0;
    std::size_t over = ranks ? surplus(0) : 0, under = ranks ? deficit(0) : 0;
    while (true) {
        while (from < ranks && over == 0)
            if (++from < ranks) over = surplus(from);
        while (to < ranks && under == 0)
            if (++to < ranks) under = deficit(to);
        if (from == ranks || to == ranks) break;  // (the surpluses and deficits have the same sum)
        const std::size_t k = std::min(over, under);
        if (from == me) plan.sends.push_back({int(to), k});
        if (to == me) {
            plan.receives.push_back({int(from), k});
            plan.received += k;
        }
        over -= k;
        under -= k;
    }
}

// A rank's even share of one batch at a time, in host memory, gathered into the caller's rows:
// start() plans the moves, copies the rows it keeps to the start of the caller's rows, starts
// receiving the rows it computes for others after them, and copies out and starts sending those
// it hands on; finish() waits for the moves. Its buffers grow to the largest batch's moves and are
// then reused: no allocation on later steps.
//
// Why one gathered block rather than the received rows as a block of their own: every block reads
// all of a layer's weights, and a block of a few rows multiplies at a fraction of the speed; as
// their own block, the 4-5 rows a step of 2 ranks receive made the step slower than the uneven
// shares they replaced (784-256-128-10, batch 128, 2-core AMD EPYC, 2026-12-07: 1.28-1.39x the
// no-communication limit against 1.24-1.29x, benchmarks/RESULTS.md). Waiting for the rows
// before computing costs a message's latency instead.
template <class T>
class ShareMoves {
public:
    // The batch at order positions [lo, hi) of `order` (global row indices), rows of `cols`
    // features; x and y have room for this rank's share of it.
    template <class C>
    void start(const C& comm, const Shard<T>& s, const std::vector<std::size_t>& order, std::size_t lo, std::size_t hi,
               std::size_t cols, T* x, int* y) {
        const std::size_t ranks = s.starts.size() - 1;
        held_.assign(ranks, 0);
        for (std::size_t k = lo; k < hi; ++k)
            ++held_[std::size_t(std::upper_bound(s.starts.begin(), s.starts.end(), order[k]) - s.starts.begin()) - 1];
        plan_shares(held_, std::size_t(comm.rank()), plan_);
        const std::size_t sent = held_[std::size_t(comm.rank())] - plan_.keep;
        pending_ = true;
        std::size_t at = plan_.keep;
        for (const RowMove& m : plan_.receives) {
            comm.receive_rows(m.peer, x + at * cols, y + at, m.rows, cols);
            at += m.rows;
        }
        if (out_x_.size() < sent * cols) out_x_.resize(sent * cols);
        if (out_y_.size() < sent) out_y_.resize(sent);
        std::size_t own = 0;
        for (std::size_t k = lo; k < hi && own < plan_.keep + sent; ++k) {
            if (!s.owns(order[k])) continue;
            const std::size_t row = order[k] - s.offset;
            const bool kept = own < plan_.keep;
            const std::size_t to = kept ? own : own - plan_.keep;
            std::copy_n(s.x.row(row), cols, (kept ? x : out_x_.data()) + to * cols);
            (kept ? y : out_y_.data())[to] = s.y[row];
            ++own;
        }
        at = 0;
        for (const RowMove& m : plan_.sends) {
            comm.send_rows(m.peer, out_x_.data() + at * cols, out_y_.data() + at, m.rows, cols);
            at += m.rows;
        }
    }

    // Waits for every move started; returns the rows of this rank's share (kept and received).
    template <class C>
    std::size_t finish(const C& comm) {
        pending_ = false;
        comm.end_row_moves();
        return plan_.keep + plan_.received;
    }

    // Whether moves were started and not yet waited for (an exception in between: the caller
    // waits before the buffers may go).
    bool pending() const { return pending_; }

private:
    std::vector<std::size_t> held_;
    SharePlan plan_;
    std::vector<T> out_x_;
    std::vector<int> out_y_;
    bool pending_ = false;
};

}  // namespace pnn::detail
