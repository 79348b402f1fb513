// defines: what every benchmark program, pnn's and the C++ peers', reports: timing statistics
// and the one report line the drivers read ("name precision median_ms min_ms max_ms").
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace bench {

using clock_type = std::chrono::steady_clock;

struct Stats {
    double median, min, max;
};

inline Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

inline void report(const char* name, const char* precision, const Stats& s) {
    std::printf("%s %s %.4f %.4f %.4f\n", name, precision, s.median, s.min, s.max);
    std::fflush(stdout);
}

// ms of each of `repeats` calls of step() after 3 untimed warm-ups.
template <class Step>
Stats time_steps(Step&& step, int repeats) {
    std::vector<double> ms;
    for (int r = 0; r < repeats + 3; ++r) {
        const auto start = clock_type::now();
        step();
        if (r >= 3) ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
    }
    return stats(ms);
}

}  // namespace bench
