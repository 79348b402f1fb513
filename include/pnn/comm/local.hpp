// defines: pnn::Local, the serial communicator: one rank that holds every row, so that summing
// over ranks and broadcasting are the identity.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pnn/comm/comm.hpp"

namespace pnn {

struct Local {
    // Rows per block of the reproducible mode (0 = off): with the same R, Local and Mpi on any
    // number of ranks train bit-for-bit the same weights.
    std::size_t reproducible_block = 0;

    int rank() const { return 0; }
    int size() const { return 1; }
    std::size_t reproducible_rows() const { return reproducible_block; }
    std::size_t first_row(std::size_t m, int r) const { return r == 0 ? 0 : m; }
    void allgather_bytes(const std::vector<unsigned char>& in, std::vector<unsigned char>& out) const { out = in; }
    void gather_bytes(const std::vector<unsigned char>& in, std::vector<unsigned char>& out,
                      std::vector<std::size_t>& sizes) const {
        out = in;
        sizes = {in.size()};
    }

    template <class T>
    Shard<T> distribute(const Dataset<T>& data) const {
        return whole(data);
    }
    template <class T>
    void sum(T*, std::size_t) const {}
    template <class T>
    void broadcast(T*, std::size_t) const {}
    template <class T>
    void reduce_gradient(T*, std::size_t, double&, bool, bool = true) const {}
    bool updates_weights() const { return true; }
    bool shares_weights() const { return false; }
    bool reads_device_memory() const { return false; }
    void barrier() const {}
    void at_step(std::uint64_t) const {}
    template <class T>
    void share_weights(T*, std::size_t) const {}
    void agree(std::uint64_t, const char*) const {}
};

static_assert(Comm<Local>);

}  // namespace pnn
