// defines: pnn::Local, the serial communicator: one rank that holds every row, so that summing
// over ranks and broadcasting are the identity.
#pragma once
#include <cstddef>
#include <cstdint>

#include "pnn/comm/comm.hpp"

namespace pnn {

struct Local {
    int rank() const { return 0; }
    int size() const { return 1; }

    template <class T>
    Shard<T> distribute(const Dataset<T>& data) const {
        return whole(data);
    }
    template <class T>
    void sum(T*, std::size_t) const {}
    template <class T>
    void broadcast(T*, std::size_t) const {}
    template <class T>
    void reduce_gradient(T*, std::size_t) const {}
    bool updates_weights() const { return true; }
    template <class T>
    void share_weights(T*, std::size_t) const {}
    void agree(std::uint64_t, const char*) const {}
};

static_assert(Comm<Local>);

}  // namespace pnn
