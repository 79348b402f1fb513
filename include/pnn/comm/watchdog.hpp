// defines: pnn::Watchdog, which ends a job whose collective call has waited too long for a peer
// that neither answers nor fails (a host whose link went down: TCP takes tens of minutes to give
// up, and MPI waits as long).
//
// Each collective call of pnn::Mpi is watched: it marks when it began and what it is. A thread
// wakes a few times per timeout; when one call has waited longer than the timeout, it prints
// which call, in which stage and at which step, and ends this process with exit status 3, and
// its launcher with it (see end_launcher: mpirun, or a remote host's daemon, would otherwise wait
// for the lost host as long as TCP does). Every rank of the job is blocked in the same collective
// call, so every rank's watchdog fires: each host's ranks and daemon end, cut off or not.
// multihost_test takes a host's link down mid-training and checks that nothing is left running.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <thread>

namespace pnn {

class Watchdog {
public:
    using clock = std::chrono::steady_clock;

    Watchdog(std::chrono::milliseconds timeout, int rank) : timeout_(timeout), rank_(rank) {
        if (timeout_.count() > 0) thread_ = std::thread([this] { watch(); });
    }
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    // The Trainer's step, for the message.
    void at_step(std::uint64_t step) { step_.store(step, std::memory_order_relaxed); }

    // Marks one collective call for as long as it lives (the outermost, when calls nest).
    class Watch {
    public:
        Watch(Watchdog& w, const char* what) : w_(w), outermost_(w.since_.load(std::memory_order_acquire) == 0) {
            if (!outermost_) return;
            w_.what_.store(what, std::memory_order_relaxed);
            w_.since_.store(now_ns(), std::memory_order_release);
        }
        ~Watch() {
            if (outermost_) w_.since_.store(0, std::memory_order_release);
        }
        Watch(const Watch&) = delete;
        Watch& operator=(const Watch&) = delete;

    private:
        Watchdog& w_;
        bool outermost_;
    };

private:
    static std::int64_t now_ns() {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count();
    }

    void watch() {
        std::unique_lock<std::mutex> lock(mutex_);
        const auto period = std::max(std::chrono::milliseconds(50), timeout_ / 5);
        while (!wake_.wait_for(lock, period, [this] { return stop_; })) {
            const std::int64_t since = since_.load(std::memory_order_acquire);
            if (since == 0 || now_ns() - since < std::chrono::nanoseconds(timeout_).count()) continue;
            std::fprintf(stderr,
                         "pnn: rank %d has waited %.0f s in %s at step %llu for a peer that neither answers nor "
                         "fails (a host unreachable?); ending the job (watchdog timeout %.0f s)\n",
                         rank_, double(now_ns() - since) * 1e-9, what_.load(), (unsigned long long)step_.load(),
                         double(timeout_.count()) * 1e-3);
            std::fflush(stderr);
            end_launcher();
            std::_Exit(3);
        }
    }

    // The launcher would otherwise outlive the ranks by as long as TCP takes to give up:
    //  - a daemon (orted) on a host cut off from mpirun waits for mpirun's word: end it;
    //  - mpirun itself, once a rank fails, aborts the job by asking every daemon to end its
    //    ranks and waits for each to confirm, which an unreachable one never does. Two signals
    //    less than 5 s apart make it end at once; its daemons on reachable hosts then see their
    //    link to mpirun close and end their ranks. The first signal's abort also ends this rank,
    //    so the signals come from a short-lived child in its own session: one each second for
    //    as long as mpirun lives (up to 10), as one signal may be lost to a busy mpirun (a CI
    //    run on 2 loaded cores saw a pair 1 s apart leave it waiting), then SIGKILL.
    // Only a launcher is signalled, never a shell or another parent.
    static void end_launcher() {
        const pid_t parent = getppid();
        char buffer[32], again[32];
        const std::string_view name = process_name(parent, buffer);
        if (name == "orted" || name == "prted") {
            kill(parent, SIGTERM);
        } else if (name == "mpirun" || name == "mpiexec" || name == "orterun" || name == "prterun") {
            const pid_t child = fork();
            if (child < 0) kill(parent, SIGTERM);  // no child: one signal only, which starts the abort
            if (child != 0) return;                // the rank goes on to exit
            setsid();
            kill(parent, SIGTERM);  // starts the abort
            for (int tries = 1; tries <= 10; ++tries) {
                sleep(1);
                if (process_name(parent, again) != name) std::_Exit(0);  // ended
                kill(parent, tries < 10 ? SIGTERM : SIGKILL);
            }
            std::_Exit(0);
        }
    }

    // /proc/PID/comm without allocating: the child above may only make async-signal-safe calls
    // (another thread may have held the allocator's lock at the fork).
    static std::string_view process_name(pid_t pid, char (&name)[32]) {
        char path[40] = "/proc/", digits[16];
        int n = 0, at = 6;
        for (unsigned v = unsigned(pid); n == 0 || v != 0; v /= 10) digits[n++] = char('0' + v % 10);
        while (n > 0) path[at++] = digits[--n];
        for (const char* c = "/comm"; *c; ++c) path[at++] = *c;
        path[at] = 0;
        const int fd = open(path, O_RDONLY);
        if (fd < 0) return {};
        const ssize_t got = read(fd, name, sizeof name);
        close(fd);
        std::size_t len = got > 0 ? std::size_t(got) : 0;
        while (len > 0 && name[len - 1] == '\n') --len;
        return {name, len};
    }

    std::chrono::milliseconds timeout_;
    int rank_;
    std::atomic<std::int64_t> since_{0};
    std::atomic<const char*> what_{""};
    std::atomic<std::uint64_t> step_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace pnn
