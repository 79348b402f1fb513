// defines: pnn::detail::mpi_check, which turns an MPI call's error code into a pnn::error naming
// the call (pnn::Mpi's communicator returns codes: MPI_ERRORS_RETURN).
#pragma once
#include <mpi.h>

#include <cstddef>
#include <string>

#include "pnn/error.hpp"

namespace pnn::detail {

inline void mpi_check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    fail(call, " failed: ", std::string(text, std::size_t(length)));
}

}  // namespace pnn::detail
