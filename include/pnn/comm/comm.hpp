// defines: the pnn::Comm concept, what a communicator policy (pnn::Local, pnn::Mpi) must offer,
// and pnn::Shard, the rows of a dataset one rank trains on.
//
// Data parallelism in one seam: every rank computes the *sum* of the cost and of the gradient
// over its own rows, the communicator sums those partial sums over ranks, and the Trainer divides
// by the global sample count. The average is therefore weighted by each rank's true row count,
// and equals the full-batch gradient whatever the split. The communicator knows nothing of
// layers; the layers know nothing of ranks.
#pragma once
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

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
    // Every row of the global dataset, when this rank holds them all (the reproducible mode's
    // mini-batches need them); else empty.
    MatrixRef<const T> whole_x{};
    const int* whole_y = nullptr;
    // Where each rank's rows start, rank by rank, and global_rows last, when each rank holds a
    // shard of its own (the mini-batches' even shares need every rank's bounds:
    // pnn/train/batch_shares.hpp); else empty.
    std::vector<std::size_t> starts{};

    std::size_t rows() const { return x.rows; }
    bool owns(std::size_t global_index) const { return global_index - offset < x.rows; }
};

// Where part r of n items split into `parts` near-equal parts starts (the first n % parts parts
// hold one more); in blocks of `block` items when block > 0, the last block possibly short.
inline std::size_t even_split(std::size_t n, std::size_t parts, std::size_t r, std::size_t block = 0) {
    if (block > 0) return std::min(n, block * even_split((n + block - 1) / block, parts, r));
    const std::size_t q = n / parts, extra = n % parts;
    return r * q + std::min(r, extra);
}

// The shard of a dataset held whole: all of it, no copy.
template <class T>
Shard<T> whole(const Dataset<T>& d) {
    return {d.x_ref(), d.labels_data(), 0, d.size(), nullptr, d.x_ref(), d.labels_data()};
}

// Every call below is collective: all ranks make it, in the same order.
//   distribute(data)         this rank's rows of the dataset (scattered, taken or checked)
//   sum(p, n)                in-place sum over ranks, the result on every rank
//   broadcast(p, n)          rank 0's values on every rank
//   reduce_gradient(p, n, c, everywhere[, host_memory])
//                            the gradient's sum on the rank(s) that update the weights (on
//                            every rank when everywhere), and the cost's sum c on every rank,
//                            in one go; p[n] is spare room, where c may travel with the gradient
//                            (not when host_memory is false: p is then GPU memory)
//   updates_weights()        whether this rank computes the update (every rank with allreduce;
//                            rank 0 alone with the seed's gather + bcast)
//   share_weights(p, n)      after the update: every rank gets the updated weights
//   shares_weights()         whether share_weights sends anything (not with allreduce)
//   reads_device_memory()    whether the calls above take GPU memory (a CUDA-aware MPI), so
//                            that a device's buffers need no staging through the host
//   agree(value, what)       throws pnn::error on every rank unless all ranks passed the same
//                            value (a hash of the net's sizes, say), naming `what`
//   allgather_bytes(in, out) every rank's bytes, concatenated in rank order, on every rank
//   gather_bytes(in, out, sizes)
//                            the same on rank 0 alone, with each rank's byte count in sizes
//                            (out and sizes empty elsewhere)
//   barrier()                returns when every rank has called it (to time load imbalance)
//   at_step(step)            (not collective) the Trainer's step, for messages about a hang
// and, not collective:
//   reproducible_rows()      R > 0: the reproducible mode, sums combined over blocks of R rows in
//                            one fixed tree (pnn/comm/tree_sum.hpp); 0: the fastest order
//   first_row(m, r)          where rank r's share of m rows starts (blocks of R when reproducible)
template <class C, class T>
concept CommFor = requires(C c, const Dataset<T>& data, T* p, std::size_t n, double& cost) {
    { c.distribute(data) } -> std::same_as<Shard<T>>;
    c.sum(p, n);
    c.broadcast(p, n);
    c.reduce_gradient(p, n, cost, true);
    c.reduce_gradient(p, n, cost, true, false);
    c.share_weights(p, n);
};

// A communicator policy, for both element types pnn trains in.
template <class C>
concept Comm = CommFor<C, float> && CommFor<C, double> &&
               requires(C c, double* d, std::size_t* z, std::size_t n, std::uint64_t v,
                        const std::vector<unsigned char>& in, std::vector<unsigned char>& out,
                        std::vector<std::size_t>& sizes) {
                   { c.rank() } -> std::convertible_to<int>;
                   { c.reproducible_rows() } -> std::convertible_to<std::size_t>;
                   { c.first_row(n, 0) } -> std::convertible_to<std::size_t>;
                   c.allgather_bytes(in, out);
                   c.gather_bytes(in, out, sizes);
                   c.barrier();
                   c.at_step(v);
                   { c.size() } -> std::convertible_to<int>;
                   { c.updates_weights() } -> std::convertible_to<bool>;
                   { c.shares_weights() } -> std::convertible_to<bool>;
                   { c.reads_device_memory() } -> std::convertible_to<bool>;
                   c.sum(d, n);
                   c.sum(z, n);  // sample counts
                   c.agree(v, "what");
               };

// Optional: a communicator that sums the gradient in buckets while backprop still computes
// (pnn::Mpi; the Trainer uses it where the device's memory is the host's):
//   overlaps()          whether it does, for its options and rank count
//   overlap_trial()     whether the Trainer first tries both orders and keeps the faster
//                       (pnn/train/overlap_choice.hpp); else it always overlaps
//   bucket_bytes()      how many bytes of gradient one bucket's sum carries
//   begin_sum(p, n)     starts the non-blocking in-place sum of p[0, n) over ranks (collective:
//                       every rank starts the same buckets in the same order)
//   progress()          lets started sums move (an MPI moves them only inside its calls)
//   sums_done()         whether every started sum has completed, as of the last progress()
//   end_sums()          waits for every started sum
//   forget_sums()       drops whatever it kept for the buffers passed to begin_sum (collective):
//                       the caller's buffers must live from their first begin_sum until this
//                       call (see pnn::Mpi::begin_sum)
template <class C, class T>
concept OverlappingComm = Comm<C> && requires(const C c, T* p, double* d, std::size_t n) {
    { c.overlaps() } -> std::convertible_to<bool>;
    { c.overlap_trial() } -> std::convertible_to<bool>;
    { c.bucket_bytes() } -> std::convertible_to<std::size_t>;
    c.begin_sum(p, n);
    c.begin_sum(d, n);
    c.progress();
    { c.sums_done() } -> std::convertible_to<bool>;
    c.end_sums();
    c.forget_sums();
};

// Optional: a communicator that can shard the update over ranks (pnn::Mpi on one node), the
// gradient and weights in host memory:
//   reduce_gradient_part(p, n, c)   as reduce_gradient(p, n, c, false), but the sum may land
//                                   only on this rank's part [lo, hi) of p: returns that part, or
//                                   nothing where it summed the whole (as reduce_gradient); the
//                                   same answer on every rank (a part may be empty, or all of p,
//                                   on one rank while others have parts), and the parts of n the
//                                   same on every call
//   share_parts(p, n)               every rank's part of p[0, n) on every rank
// The Trainer then updates only the part, of the weights and of the optimizer's state, and
// shares the weights' parts; the state's parts are shared only when it is needed whole (a
// checkpoint, or a step that summed the whole gradient).
template <class C, class T>
concept PartSummingComm = Comm<C> && requires(const C c, T* p, std::size_t n, double& cost) {
    { c.reduce_gradient_part(p, n, cost) } -> std::same_as<std::optional<std::pair<std::size_t, std::size_t>>>;
    c.share_parts(p, n);
};

// Optional: a communicator that moves rows of a mini-batch between ranks, point to point
// (pnn::Mpi), so that ranks that hold only their own rows compute even shares of every batch
// (pnn/train/batch_shares.hpp; the Trainer uses it where the device's memory is the host's):
//   even_batch_shares()                   whether to (MpiOptions::even_batch_shares)
//   send_rows(to, x, y, rows, cols)       starts sending `rows` rows of x (contiguous, cols
//                                         each) and their labels y to rank `to`
//   receive_rows(from, x, y, rows, cols)  starts receiving as many from rank `from` into x, y
//   end_row_moves()                       waits for every move started; until then the buffers
//                                         of a move are the communicator's
// The two ends of every move start it in the same order (every rank makes the same plan).
template <class C, class T>
concept RowMovingComm = Comm<C> && requires(const C c, const T* cx, T* x, const int* cy, int* y, std::size_t n) {
    { c.even_batch_shares() } -> std::convertible_to<bool>;
    c.send_rows(0, cx, cy, n, n);
    c.receive_rows(0, x, y, n, n);
    c.end_row_moves();
};

// Optional: an overlapping communicator whose sums take device memory and run on a stream of the
// device's own (pnn::Nccl): begin_sum(p, n) queues the sum behind the kernels queued so far,
// end_sums() queues what follows behind every sum, and neither waits on the host. The cost,
// a host value, is then summed with sum() after backprop.
template <class C>
concept StreamOverlappingComm = C::sums_on_device_stream;

}  // namespace pnn
