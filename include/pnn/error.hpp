// defines: pnn::error, the one exception type pnn throws for bad input and failed runs.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace pnn {

// Every message names the thing that is wrong (a file, an argument, a sample), what was expected
// and what was found, so that a user can act on it without reading pnn's source.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {
// Builds a message from any streamable pieces: fail("file ", path, ": expected ", a, ", found ", b).
template <class... Parts>
[[noreturn]] inline void fail(Parts&&... parts) {
    std::ostringstream out;
    out << "pnn: ";
    (out << ... << std::forward<Parts>(parts));
    throw error(out.str());
}
}  // namespace detail

}  // namespace pnn
