// defines: pnn::detail::NodeSum, the gradient's sum over ranks through one node's shared memory,
// for a communicator whose ranks all run on one machine (pnn::Mpi's reduce_gradient uses it
// there instead of MPI_Allreduce).
//
// Each rank has two slots in one shared mapping (POSIX shared memory, opened by every rank of
// the node and unlinked at once, so that nothing outlives the job and freeing it is local, never
// a collective call that a failing job could hang in). A sum:
//   1. each rank copies its values and its cost into its slot;            barrier
//   2. rank r sums part r of the values over every slot, in rank order, into its own slot's
//      part r (a reduce-scatter in place: no other rank reads or writes part r of slot r now);
//                                                                          barrier
//   3. each rank copies every part from its owner's slot, and sums the costs in rank order.
// Every rank thus ends with the same bits. Two barriers a sum; the traffic is each rank's values
// once in, its part summed, the values once out (an allreduce over shared memory moves as much,
// through more buffers).
//
// For an update sharded over ranks (pnn::Mpi::reduce_gradient_part), the sum stops after step 2
// with the part in the rank's own memory (sum_part: one barrier; a rank copies in only the parts
// the others sum, and adds its own part from where it is); each rank updates its part of
// the weights, and share_part gives every rank every part (own part into the slot; barrier;
// step 3).
//
// Why no more barriers are needed: every operation (sum, sum_part, share_part) writes only the
// slots of one set, reads other ranks' slots only after a barrier that follows its writes, and
// the next operation uses the other set. A rank writes a set again two operations later, after
// passing the barrier of the operation in between, which every other rank reaches only once it
// has finished reading that set.
#pragma once
#include <fcntl.h>
#include <mpi.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "pnn/comm/mpi_check.hpp"

namespace pnn::detail {

class NodeSum {
public:
    NodeSum() = default;
    NodeSum(const NodeSum&) = delete;
    NodeSum& operator=(const NodeSum&) = delete;
    ~NodeSum() { unmap(); }

    // Whether every rank of comm shares this node (collective; asked once, then remembered).
    bool whole_comm_on_one_node(MPI_Comm comm) {
        if (on_one_node_ < 0) {
            MPI_Comm node;
            int size = 0, node_size = 0;
            MPI_Comm_size(comm, &size);
            mpi_check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
            MPI_Comm_size(node, &node_size);
            MPI_Comm_free(&node);
            on_one_node_ = node_size == size ? 1 : 0;
        }
        return on_one_node_ == 1;
    }

    // Whether a mapping failed on some rank (sum then always says false).
    bool unavailable() const { return unavailable_; }

    // The sum of p[0, n) and of cost over comm's ranks, on every rank (collective; comm's ranks
    // all on one node). barrier() is the caller's watched MPI_Barrier. Returns false, with
    // nothing summed, where some rank could not map the shared memory (no /dev/shm, as in some
    // containers): the caller sums another way, and every later call says false at once.
    template <class T, class Barrier>
    bool sum(MPI_Comm comm, T* p, std::size_t n, double& cost, Barrier&& barrier) {
        const Ranks at = ranks(comm);
        if (!reserve(comm, n * sizeof(T), at.size)) return false;
        copy_in(at.rank, p, 0, n, cost);
        barrier();
        const std::size_t lo = part(n, at.size, at.rank), hi = part(n, at.size, at.rank + 1);
        // (slot r's own part is both a term of the sum and where it goes: add_slots keeps each
        // block's sum aside until it is whole)
        add_slots(at.size, lo, hi, values<T>(at.rank));
        fence();
        barrier();
        copy_parts_out(at.size, p, n);
        cost = total_cost(at.size);
        parity_ ^= 1;
        return true;
    }

    // The first half of sum, for an update sharded over ranks: the sum over ranks of this rank's
    // part of p, part(n, size, rank) = [lo, hi), into p[lo, hi), and the cost's sum on every
    // rank; p outside the part is left as it was. Returns whether it could (as sum does). One
    // barrier. share_part then gives every rank every part of what the ranks made of their parts.
    template <class T, class Barrier>
    bool sum_part(MPI_Comm comm, T* p, std::size_t n, double& cost, Barrier&& barrier) {
        const Ranks at = ranks(comm);
        if (!reserve(comm, n * sizeof(T), at.size)) return false;
        const std::size_t lo = part(n, at.size, at.rank), hi = part(n, at.size, at.rank + 1);
        // Only the other ranks read this slot, and only their parts: the own part stays in p,
        // where add_slots reads it as this rank's term (the same values in the same order).
        copy_values_in(at.rank, p, 0, lo);
        copy_in(at.rank, p, hi, n, cost);
        barrier();
        add_slots(at.size, lo, hi, p, Own<T>{at.rank, p});
        cost = total_cost(at.size);
        parity_ ^= 1;
        return true;
    }

    // Every rank's part r of p (part(n, size, r), as sum_part leaves it) on every rank: each rank
    // copies its own part into its slot; barrier; each copies every other part from its owner's
    // slot. False where the memory could not be mapped (then nothing moved).
    template <class T, class Barrier>
    bool share_part(MPI_Comm comm, T* p, std::size_t n, Barrier&& barrier) {
        const Ranks at = ranks(comm);
        if (!reserve(comm, n * sizeof(T), at.size)) return false;
        const std::size_t lo = part(n, at.size, at.rank), hi = part(n, at.size, at.rank + 1);
        copy_values_in(at.rank, p, lo, hi);
        fence();
        barrier();
        copy_parts_out(at.size, p, n);
        parity_ ^= 1;
        return true;
    }

    // Where part r of n values starts: even shares in blocks of 64 values (whole cache lines,
    // so that no two ranks write one line).
    static std::size_t part(std::size_t n, int size, int r) {
        if (r >= size) return n;
        const std::size_t block = 64, blocks = (n + block - 1) / block;
        return std::min(n, blocks * std::size_t(r) / std::size_t(size) * block);
    }

private:
    struct Ranks {
        int rank = 0, size = 1;
    };
    static Ranks ranks(MPI_Comm comm) {
        Ranks at;
        MPI_Comm_rank(comm, &at.rank);
        MPI_Comm_size(comm, &at.size);
        return at;
    }
    static void fence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

    // Step 1: this rank's values [lo, hi) and cost into its slot (then a fence: the barrier
    // publishes them).
    template <class T>
    void copy_in(int rank, const T* p, std::size_t lo, std::size_t hi, double cost) {
        copy_values_in(rank, p, lo, hi);
        *cost_slot(rank) = cost;
        fence();
    }
    template <class T>
    void copy_values_in(int rank, const T* p, std::size_t lo, std::size_t hi) {
        if (hi > lo) std::memcpy(values<T>(rank) + lo, p + lo, (hi - lo) * sizeof(T));
    }
    // Where add_slots finds one rank's term in place of its slot (rank -1: every term in a slot).
    template <class T>
    struct Own {
        int rank = -1;
        const T* data = nullptr;
    };
    template <class T>
    const T* term(int r, Own<T> own) const {
        return r == own.rank ? own.data : values<T>(r);
    }
    // Step 2: out[i] = the sum over slots of their value i, for i in [lo, hi), in rank order
    // ((slot 0 + slot 1) + slot 2 ...), a slot at a time over a block (loops that vectorise),
    // the block's sum kept aside until it is whole, so out may be a slot's own values.
    template <class T>
    void add_slots(int size, std::size_t lo, std::size_t hi, T* out, Own<T> own = {}) const {
        constexpr std::size_t block = 512;
        T sum[block];
        for (std::size_t at = lo; at < hi; at += block) {
            const std::size_t len = std::min(block, hi - at);
            const T* first = term(0, own) + at;
            if (size == 1) {
                if (first != out + at) std::memcpy(out + at, first, len * sizeof(T));
                continue;
            }
            const T* second = term(1, own) + at;
            for (std::size_t i = 0; i < len; ++i) sum[i] = first[i] + second[i];
            for (int r = 2; r < size; ++r) {
                const T* next = term(r, own) + at;
                for (std::size_t i = 0; i < len; ++i) sum[i] += next[i];
            }
            std::memcpy(out + at, sum, len * sizeof(T));
        }
    }
    // Step 3: every part r of p from its owner's slot (this rank's own too: where sum left it).
    template <class T>
    void copy_parts_out(int size, T* p, std::size_t n) const {
        for (int r = 0; r < size; ++r) {
            const std::size_t a = part(n, size, r), b = part(n, size, r + 1);
            if (b > a && values<T>(r) + a != p + a) std::memcpy(p + a, values<T>(r) + a, (b - a) * sizeof(T));
        }
    }
    double total_cost(int size) const {
        double total = 0;
        for (int r = 0; r < size; ++r) total += *cost_slot(r);
        return total;
    }

    static constexpr std::size_t header = 64;  // the cost's double, alone in its cache line

    // A slot (slot_bytes_ long): the cost, then the values, rounded to whole pages.
    unsigned char* slot(int r) const { return base_ + (std::size_t(2 * r + parity_)) * slot_bytes_; }
    double* cost_slot(int r) const { return reinterpret_cast<double*>(slot(r)); }
    template <class T>
    T* values(int r) const {
        return reinterpret_cast<T*>(slot(r) + header);
    }

    // Maps room for two slots a rank of at least `bytes` values (collective: a new mapping where
    // the last one is too small, the same decision on every rank as n is the same everywhere).
    // False where some rank could not (then never again).
    bool reserve(MPI_Comm comm, std::size_t bytes, int size) {
        if (unavailable_) return false;
        const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
        const std::size_t need = (header + bytes + page - 1) / page * page;
        if (base_ && need <= slot_bytes_) return true;
        unmap();
        int rank = 0;
        MPI_Comm_rank(comm, &rank);
        // rank 0 names and sizes the memory; the others open it after the broadcast, then rank
        // 0 unlinks the name once every rank has it mapped
        char name[64] = {};
        int failed = 0;
        int fd = -1;
        const std::size_t total = need * 2 * std::size_t(size);
        if (rank == 0) {
            static std::atomic<unsigned> made{0};
            std::snprintf(name, sizeof name, "/pnn-node-sum-%ld-%u", long(getpid()), made++);
            fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
            // (the pages reserved now: a /dev/shm too small, as a container's 64 MB, is a
            // fallback to MPI_Allreduce here, not a SIGBUS at the first write)
            failed = fd < 0 || ftruncate(fd, off_t(total)) != 0 || posix_fallocate(fd, 0, off_t(total)) != 0;
            if (failed && fd >= 0) close(fd);
            if (failed) fd = -1;
        }
        mpi_check(MPI_Bcast(name, sizeof name, MPI_CHAR, 0, comm), "MPI_Bcast");
        mpi_check(MPI_Bcast(&failed, 1, MPI_INT, 0, comm), "MPI_Bcast");
        if (!failed) {
            if (rank != 0) fd = shm_open(name, O_RDWR, 0600);
            // Every page now, not a fault at a time in the first sums (the faults made each of
            // the first two sums take 2-6 ms here, against 0.11 ms after): MAP_POPULATE maps
            // them for reading, and each rank writes its own two slots once, the only ones it
            // writes.
            void* at = fd < 0 ? MAP_FAILED
                              : mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
            if (fd >= 0) close(fd);
            if (at != MAP_FAILED) {
                base_ = static_cast<unsigned char*>(at);
                std::memset(base_ + std::size_t(2 * rank) * need, 0, 2 * need);
            }
            failed = base_ == nullptr;
        }
        mpi_check(MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
        if (rank == 0 && name[0]) shm_unlink(name);
        slot_bytes_ = need;
        mapped_ = total;
        parity_ = 0;
        if (failed) {
            unmap();
            unavailable_ = true;
        }
        return !failed;
    }
    void unmap() {
        if (base_) munmap(base_, mapped_);
        base_ = nullptr;
        slot_bytes_ = mapped_ = 0;
    }

    int on_one_node_ = -1;  // unknown yet
    bool unavailable_ = false;
    unsigned char* base_ = nullptr;
    std::size_t slot_bytes_ = 0, mapped_ = 0;
    int parity_ = 0;
};

}  // namespace pnn::detail
