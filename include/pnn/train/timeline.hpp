// defines: pnn::Timeline, every stage of every step as a begin and an end on this rank's clock,
// in a buffer of a fixed number of events, and the Chrome trace JSON that shows every rank's
// timeline side by side (chrome://tracing, https://ui.perfetto.dev), as Horovod's timeline does.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "pnn/error.hpp"

namespace pnn {

// The stages a timeline names, in StageTimes' order (pnn/train/stages.hpp).
enum class Stage : std::uint8_t { scatter, forward, backprop, wait, reduction, update, bcast };
inline const char* name_of(Stage s) {
    static const char* const names[] = {"scatter", "forward", "backprop", "wait", "reduction", "update", "bcast"};
    return names[std::size_t(s)];
}

class Timeline {
public:
    using clock = std::chrono::steady_clock;
    // 1 << 20 events of 24 bytes: 24 MiB a rank. A step makes two events a block of rows
    // (forward, backprop; blocks are sized to the cache) and four more (wait, reduction, update,
    // bcast): mnist_nn's step on 5000 Fashion-MNIST rows made 248 (Intel Xeon, 2026-12-02), so
    // the default holds about 4,200 such steps. Events past the bound are counted, not kept.
    static constexpr std::size_t default_capacity = std::size_t(1) << 20;

    struct Event {
        double begin, end;   // seconds since the origin
        std::uint32_t step;  // the update it belongs to (1-based, the trainer's count)
        Stage stage;
    };

    static_assert(sizeof(Event) == 24, "the bound above counts 24-byte events");

    bool on() const { return on_; }
    // Starts recording into a buffer of `capacity` events (allocated here, never in a step),
    // forgetting what was recorded; off keeps what was recorded, for writing.
    void record(bool on, std::size_t capacity = default_capacity) {
        if (on) {
            if (capacity == 0) detail::fail("record_timeline: expected room for at least 1 event, found 0");
            events_.clear();
            events_.shrink_to_fit();
            events_.reserve(capacity);
            capacity_ = capacity;
            dropped_ = 0;
            aligned_ = false;
        }
        on_ = on;
    }
    // The moment all ranks call this together (after a barrier) is 0 on every rank's timeline.
    bool aligned() const { return aligned_; }
    void align(clock::time_point origin) {
        origin_ = origin;
        aligned_ = true;
    }

    void add(Stage stage, std::uint64_t step, clock::time_point begin, clock::time_point end) {
        if (events_.size() == capacity_) {
            ++dropped_;
            return;
        }
        events_.push_back({seconds(begin), seconds(end), std::uint32_t(step), stage});
    }

    const std::vector<Event>& events() const { return events_; }
    std::size_t dropped() const { return dropped_; }
    std::size_t capacity() const { return capacity_; }

    // This rank's events as bytes (a count of those dropped, then the events), for the merge.
    std::vector<unsigned char> bytes() const {
        std::vector<unsigned char> out(sizeof(std::uint64_t) + events_.size() * sizeof(Event));
        const std::uint64_t dropped = dropped_;
        std::memcpy(out.data(), &dropped, sizeof dropped);
        if (!events_.empty()) std::memcpy(out.data() + sizeof dropped, events_.data(), events_.size() * sizeof(Event));
        return out;
    }

    // Chrome trace JSON of every rank's events (each rank's bytes() in rank order, one after
    // the other, sizes[r] bytes each): one complete event ("ph":"X", times in microseconds) per
    // line, a process per rank, and in "otherData" the bound and what each rank dropped.
    static std::string json(const std::vector<unsigned char>& all, const std::vector<std::size_t>& sizes,
                            std::size_t capacity) {
        std::string out = "{\"traceEvents\":[\n";
        std::string dropped;
        std::size_t at = 0;
        char line[256];
        for (std::size_t r = 0; r < sizes.size(); ++r) {
            std::uint64_t lost = 0;
            std::memcpy(&lost, all.data() + at, sizeof lost);
            if (r) dropped += ',';
            dropped += std::to_string(lost);
            std::snprintf(line, sizeof line,
                          "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%zu,\"tid\":0,\"args\":{\"name\":\"rank %zu\"}},\n", r, r);
            out += line;
            const std::size_t n = (sizes[r] - sizeof lost) / sizeof(Event);
            for (std::size_t i = 0; i < n; ++i) {
                Event e;
                std::memcpy(&e, all.data() + at + sizeof lost + i * sizeof(Event), sizeof e);
                std::snprintf(line, sizeof line,
                              "{\"name\":\"%s\",\"cat\":\"pnn\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%zu,\"tid\":0,"
                              "\"args\":{\"step\":%u}},\n",
                              name_of(e.stage), 1e6 * e.begin, 1e6 * (e.end - e.begin), r, unsigned(e.step));
                out += line;
            }
            at += sizes[r];
        }
        out.resize(out.size() - 2);  // the last event's ",\n"
        out += "\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":{\"capacity\":" + std::to_string(capacity) +
               ",\"dropped\":[" + dropped + "]}}\n";
        return out;
    }

private:
    double seconds(clock::time_point t) const { return std::chrono::duration<double>(t - origin_).count(); }

    std::vector<Event> events_;
    std::size_t capacity_ = 0, dropped_ = 0;
    clock::time_point origin_{};
    bool on_ = false, aligned_ = false;
};

}  // namespace pnn
