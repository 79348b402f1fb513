// defines: pnn::StageTimes, where a training run's time goes (the seed's figures 4 to 6), and
// pnn::StageClock, the switchable stopwatch the Trainer and the layers record them (and the
// timeline) with.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>

#include "pnn/train/timeline.hpp"

// PNN_STAGE_TIMING=0 compiles stage timing out altogether: benchmarks/stage_timing_cost.py
// builds the same benchmark both ways to show that timing compiled in but switched off costs
// nothing measurable.
#ifndef PNN_STAGE_TIMING
#define PNN_STAGE_TIMING 1
#endif

namespace pnn {

// Seconds spent per stage, summed over the iterations of the fits recorded.
struct StageTimes {
    double scatter = 0;    // handing each rank its rows (MPI_Scatterv, or taking a view)
    double forward = 0;    // forward products, sigmoids, cost and output delta (and mini-batch gathers)
    double backprop = 0;   // gradient products and deltas of the hidden layers
    double wait = 0;       // waiting for the slowest rank before the reduction (load imbalance);
                           // measured with a barrier that runs only while recording
    double reduction = 0;  // summing gradients and costs over ranks (with overlap: the wait
                           // for the sums still running when backprop ends)
    double overlapped = 0; // with overlap: time the gradient's sums ran beside backprop, hidden
                           // (part of backprop's time, not added to the total)
    double update = 0;     // finishing the gradient (1/m, L2) and the momentum step
    double bcast = 0;      // sending updated weights: from rank 0 (the gather + bcast strategy), or
                           // each rank's part to the others (the sharded update)
    double total = 0;      // wall time of fit, start to end
    std::size_t iterations = 0;
    std::size_t rows = 0;  // samples this rank computed (forward and backprop), over the iterations

    // One line per stage, in milliseconds per iteration and share of the total; then the rows.
    std::string table() const {
        std::string out;
        const double per = iterations ? 1e3 / double(iterations) : 0;
        const struct {
            const char* name;
            double seconds;
        } stages[] = {{"scatter", scatter}, {"forward", forward},  {"backprop", backprop}, {"wait", wait}, {"reduction", reduction},
                    {"update", update},   {"bcast", bcast},      {"total", total}};
        for (const auto& r : stages) {
            char line[96];
            std::snprintf(line, sizeof line, "  %-10s %9.3f ms/iteration %6.1f%%\n", r.name, r.seconds * per,
                          total > 0 ? 100 * r.seconds / total : 0.0);
            out += line;
        }
        if (iterations > 0) {
            char line[128];
            std::snprintf(line, sizeof line, "  %-10s %9.1f per iteration on this rank\n", "rows", double(rows) / double(iterations));
            out += line;
        }
        if (overlapped > 0) {
            char line[128];
            std::snprintf(line, sizeof line, "  %-10s %9.3f ms/iteration of the reduction hidden behind backprop\n",
                          "overlapped", overlapped * per);
            out += line;
        }
        return out;
    }
};

// Adds the time since the last lap to a stage, and puts it on the timeline, when recording;
// when not, a lap is one branch.
class StageClock {
public:
    using clock = std::chrono::steady_clock;
    // Both set for a fit's duration only (ignored when compiled out):
    bool on = false;     // stage sums were asked for
    bool trace = false;  // the timeline was asked for
    StageTimes times;
    Timeline timeline;       // every lap as an event, while tracing
    std::uint64_t step = 0;  // the update the laps belong to, for the timeline

    bool recording() const { return PNN_STAGE_TIMING && (on || trace); }
    bool summing() const { return PNN_STAGE_TIMING && on; }
    void start() {
        if (recording()) last_ = clock::now();
    }
    // device: waits for its queued work first, so that the lap holds that work's time.
    template <class Device>
    void lap(double StageTimes::*stage, const Device& device) {
        if (!recording()) return;
        device.synchronize();
        const auto now = clock::now();
        if (on) times.*stage += std::chrono::duration<double>(now - last_).count();
        if (trace) timeline.add(stage_of(stage), step, last_, now);
        last_ = now;
    }

private:
    static Stage stage_of(double StageTimes::*stage) {
        using Field = double StageTimes::*;  // (an alias: g++ 12 reads the array of them as parenthesised)
        static constexpr Field order[] = {&StageTimes::scatter, &StageTimes::forward,   &StageTimes::backprop,
                                          &StageTimes::wait,    &StageTimes::reduction, &StageTimes::update,
                                          &StageTimes::bcast};
        std::size_t i = 0;
        while (i + 1 < std::size(order) && order[i] != stage) ++i;
        return Stage(i);
    }

    clock::time_point last_{};
};

}  // namespace pnn
