// defines: the pnn::Comm concept, what a communicator policy (pnn::Local, pnn::Mpi) must offer,
// and pnn::Shard, the rows of a dataset one rank trains on.
//
// Data parallelism in one seam: every rank computes the *sum* of the cost and of the gradient
// over its own rows, the communicator sums those partial sums over ranks, and the Trainer divides
// by the global sample count. The average is therefore weighted by each rank's true row count,
// and equals the full-batch gradient whatever the split. The communicator knows nothing of
// layers; the layers know nothing of ranks.
#pragma once
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "pnn/data/dataset.hpp"
#include "pnn/util/matrix_ref.hpp"

namespace pnn {

// The rows [offset, offset + rows) of a global dataset of global_rows samples, as held by one
// rank: views into the caller's dataset, or into storage the communicator received them in.
template <class T>
struct Shard {
    MatrixRef<const T> x;
    const int* y = nullptr;
    std::size_t offset = 0;
    std::size_t global_rows = 0;
    std::shared_ptr<const Dataset<T>> storage;  // set when the rows were copied or received

    std::size_t rows() const { return x.rows; }
    bool owns(std::size_t global_index) const { return global_index - offset < x.rows; }
};

// The shard of a dataset held whole: all of it, no copy.
template <class T>
Shard<T> whole(const Dataset<T>& d) {
    return {d.x_ref(), d.labels_data(), 0, d.size(), nullptr};
}

// Every call below is collective: all ranks make it, in the same order.
//   distribute(data)         this rank's rows of the dataset (scattered, taken or checked)
//   sum(p, n)                in-place sum over ranks, the result on every rank
//   broadcast(p, n)          rank 0's values on every rank
//   reduce_gradient(p, n)    the gradient step's sum, on the rank(s) that update the weights
//   updates_weights()        whether this rank computes the update (every rank with allreduce;
//                            rank 0 alone with the seed's gather + bcast)
//   share_weights(p, n)      after the update: every rank gets the updated weights
//   agree(value, what)       throws pnn::error on every rank unless all ranks passed the same
//                            value (a hash of the net's sizes, say), naming `what`
template <class C, class T>
concept CommFor = requires(C c, const Dataset<T>& data, T* p, std::size_t n) {
    { c.distribute(data) } -> std::same_as<Shard<T>>;
    c.sum(p, n);
    c.broadcast(p, n);
    c.reduce_gradient(p, n);
    c.share_weights(p, n);
};

// A communicator policy, for both element types pnn trains in.
template <class C>
concept Comm = CommFor<C, float> && CommFor<C, double> &&
               requires(C c, double* d, std::size_t* z, std::size_t n, std::uint64_t v) {
                   { c.rank() } -> std::convertible_to<int>;
                   { c.size() } -> std::convertible_to<int>;
                   { c.updates_weights() } -> std::convertible_to<bool>;
                   c.sum(d, n);
                   c.sum(z, n);  // sample counts
                   c.agree(v, "what");
               };

}  // namespace pnn
