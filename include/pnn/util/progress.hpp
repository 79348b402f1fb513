// defines: pnn::Progress, a one-line progress display with rate and ETA for long runs, drawn on
// stderr only when stderr is a terminal (so that logs and pipes stay clean).
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

namespace pnn {

class Progress {
public:
    using clock = std::chrono::steady_clock;

    Progress(std::size_t total, std::string label, bool enabled = ::isatty(STDERR_FILENO) != 0)
        : total_(total), label_(std::move(label)), enabled_(enabled && total > 1), start_(clock::now()) {}
    ~Progress() { finish(); }

    // Redraws at most ten times a second.
    void update(std::size_t done, double cost) {
        if (!enabled_) return;
        const auto now = clock::now();
        if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        const double elapsed = std::chrono::duration<double>(now - start_).count();
        const double eta = done ? elapsed / double(done) * double(total_ - done) : 0.0;
        const int width = 30, filled = int(double(width) * double(done) / double(total_));
        std::fprintf(stderr, "\r%s [%.*s%*s] %3d%% %zu/%zu  cost %.6f  %.2f ms/it  ETA %s   ", label_.c_str(), filled,
                     "==============================", width - filled, "", int(100.0 * double(done) / double(total_)),
                     done, total_, cost, 1e3 * elapsed / double(done ? done : 1), clock_text(eta).c_str());
        std::fflush(stderr);
        drawn_ = true;
    }

    // Clears the line so that what follows starts at column 0.
    void finish() {
        if (drawn_) std::fprintf(stderr, "\r\033[K");
        drawn_ = false;
    }

    // Prints a line of output (to stdout) without leaving a half-drawn bar behind it.
    template <class... A>
    void print(const char* format, A... args) {
        finish();
        std::printf(format, args...);
        std::fflush(stdout);
    }

private:
    static std::string clock_text(double s) {
        char b[32];
        if (s < 60) std::snprintf(b, sizeof b, "%.0fs", s);
        else if (s < 3600) std::snprintf(b, sizeof b, "%dm%02ds", int(s) / 60, int(s) % 60);
        else std::snprintf(b, sizeof b, "%dh%02dm", int(s) / 3600, int(s) / 60 % 60);
        return b;
    }

    std::size_t total_;
    std::string label_;
    bool enabled_;
    bool drawn_ = false;
    clock::time_point start_, last_{};
};

}  // namespace pnn
