// defines: pnn::detail::allocating and pnn::detail::check_fits, which turn a request for more
// memory than the machine has into a pnn::error that names what asked and how much, instead of
// std::bad_alloc (an abort in a program that does not catch it) or, with Linux's overcommit, a
// request that succeeds and is killed later, mid-run.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <new>
#include <string>

#include "pnn/error.hpp"

namespace pnn::detail {

// "1.5 GiB", "320 MiB": a byte count as a reader takes it in.
inline std::string human_bytes(double bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024 && u < 6) bytes /= 1024, ++u;
    char text[32];
    std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return text;
}

// The machine's physical memory in bytes (0 where the system does not say).
inline std::size_t physical_memory() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? std::size_t(pages) * std::size_t(page) : 0;
}

// count values of element_bytes each, for `what`: a pnn::error when their bytes pass 2^64 or
// the machine's physical memory (such a request cannot be met, even where the allocator would
// promise it).
inline void check_fits(std::size_t count, std::size_t element_bytes, const std::string& what) {
    std::size_t bytes = 0;
    const std::size_t memory = physical_memory();
    if (__builtin_mul_overflow(count, element_bytes, &bytes))
        fail(what, ": ", count, " values of ", element_bytes, " bytes need more than 2^64 bytes");
    if (memory > 0 && bytes > memory)
        fail(what, ": ", count, " values need ", human_bytes(double(bytes)), ", more than this machine's ",
             human_bytes(double(memory)), " of memory");
}

// Runs make() (which allocates count values of element_bytes for `what`) after check_fits
// (host memory only: a GPU's memory is its own), and turns a std::bad_alloc from it (Thrust's
// for device memory too) into a pnn::error with the size asked for.
template <class Make>
auto allocating(std::size_t count, std::size_t element_bytes, const std::string& what, Make&& make,
                bool host_memory = true) {
    if (host_memory) check_fits(count, element_bytes, what);
    try {
        return make();
    } catch (const std::bad_alloc&) {
        fail(what, ": could not allocate ", human_bytes(double(count) * double(element_bytes)), " for ", count,
             " values");
    }
}

}  // namespace pnn::detail
