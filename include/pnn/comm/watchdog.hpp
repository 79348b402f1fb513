// defines: pnn::Watchdog, which ends a job whose collective call has waited too long for a peer
// that neither answers nor fails (a host whose link went down: TCP takes tens of minutes to give
// up, and MPI waits as long).
//
// Each collective call of pnn::Mpi is watched: it marks when it began and what it is. A thread
// wakes a few times per timeout; when one call has waited longer than the timeout, it prints
// which call, in which stage and at which step, and ends this process with exit status 3. The
// launcher (mpirun, or a remote host's daemon) then ends the rest of the job; since a host cut
// off from mpirun cannot hear that, the watchdog of each rank on it fires too, and ends its
// host's launcher daemon (orted) with it, so that nothing is left running there.
#pragma once
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
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
            end_launcher_daemon();
            std::_Exit(3);
        }
    }

    // A rank on a host cut off from mpirun: its daemon would wait for mpirun's word for as long
    // as TCP takes to give up. End it too (only a launcher daemon, never a shell).
    static void end_launcher_daemon() {
        const pid_t parent = getppid();
        std::ifstream comm("/proc/" + std::to_string(parent) + "/comm");
        std::string name;
        std::getline(comm, name);
        if (name == "orted" || name == "prted") kill(parent, SIGTERM);
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
