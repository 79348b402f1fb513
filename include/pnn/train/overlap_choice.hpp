// defines: pnn::OverlapChoice, the Trainer's choice between the blocked order (one sum of the
// gradient after backprop) and the overlapped order (buckets summed while backprop computes),
// made from the first steps that could overlap.
//
// Why measure: the overlapped order hides the reduction behind backprop, but it carries a
// window of rows through every layer at once, so its products run from memory rather than from
// the cache the blocked order keeps them in (on a 2-core AMD EPYC, 784-1024-1024-10, float32,
// 1536 rows a rank: 7-17% more computation). It pays where the link is slow (a 1 Gbit/s link:
// 1.06-1.25x the overlap limit against 1.31-1.39x in the blocked order) and costs where it is fast
// (one host: 1.12-1.17x against 1.00-1.07x); which one a machine is, only a step can tell.
// So the first 2 * trials_per_order such steps alternate, overlapped first, and the order whose
// fastest step was faster, summed over ranks (every rank then makes the same choice), is kept.
// Both orders compute the same sums, in another order of additions: the model is the same
// within rounding (the reproducible mode, which never overlaps, is bit for bit).
#pragma once
#include <algorithm>
#include <cstddef>
#include <limits>

namespace pnn {

struct OverlapChoice {
    static constexpr int trials_per_order = 2;

    int trials = 0;        // steps tried so far
    bool decided = false;  // then: overlap tells the order kept
    bool overlap = true;
    // Each order's fastest trial step on this rank, then (decided) summed over ranks, seconds.
    double blocked_seconds = std::numeric_limits<double>::infinity();
    double overlapped_seconds = std::numeric_limits<double>::infinity();

    // The order of the next step.
    bool next_overlaps() const { return decided ? overlap : trials % 2 == 0; }

    // Records a trial step of `seconds` in the order next_overlaps() gave; after the last trial,
    // decides, with one sum over ranks (collective: every rank records the same trials). Once
    // decided, it changes nothing.
    template <class C>
    void record(double seconds, const C& comm) {
        if (decided) return;
        double& best = next_overlaps() ? overlapped_seconds : blocked_seconds;
        best = std::min(best, seconds);
        if (++trials < 2 * trials_per_order) return;
        double both[2] = {blocked_seconds, overlapped_seconds};
        comm.sum(both, 2);
        blocked_seconds = both[0];
        overlapped_seconds = both[1];
        overlap = overlapped_seconds < blocked_seconds;
        decided = true;
    }
};

}  // namespace pnn
