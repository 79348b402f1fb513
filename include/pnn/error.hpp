// defines: pnn::error, the one exception type pnn throws for bad input and failed runs.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace pnn {

// Every message names the thing that is wrong (a file, an argument, a sample), what was expected
// and what was found, so that a user can act on it without reading pnn's source.
//
// Under MPI a failure is often seen by every rank at once (a check that all ranks make together,
// or one rank's bad input that the others learn of). Then one rank reports it and the others
// carry reported_elsewhere(), so that a program prints each failure once.
class error : public std::runtime_error {
public:
    explicit error(const std::string& what, bool reported_elsewhere = false)
        : std::runtime_error(what), elsewhere_(reported_elsewhere) {}

    // True where another rank reports this failure (print nothing here).
    bool reported_elsewhere() const { return elsewhere_; }

private:
    bool elsewhere_ = false;
};

namespace detail {
// Joins any streamable pieces into one string.
template <class... Parts>
std::string text(Parts&&... parts) {
    std::ostringstream out;
    (out << ... << std::forward<Parts>(parts));
    return out.str();
}

// Builds a message from any streamable pieces: fail("file ", path, ": expected ", a, ", found ", b).
template <class... Parts>
std::string message(Parts&&... parts) {
    return text("pnn: ", std::forward<Parts>(parts)...);
}

template <class... Parts>
[[noreturn]] inline void fail(Parts&&... parts) {
    throw error(message(std::forward<Parts>(parts)...));
}

// The same failure raised on every rank: rank 0 reports it.
template <class... Parts>
[[noreturn]] inline void fail_everywhere(int rank, Parts&&... parts) {
    throw error(message(std::forward<Parts>(parts)...), rank != 0);
}
}  // namespace detail

}  // namespace pnn
