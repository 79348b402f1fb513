// defines: pnn::TreeSum, the reproducible way to add up per-block partial sums (of the gradient
// and the cost) across ranks: in one fixed binary tree over the blocks, whatever the number of
// ranks, so that training gives bit-for-bit the same weights on 1 rank or 7.
//
// Floating-point addition is not associative: an allreduce adds the ranks' partial sums in an
// order that depends on how many ranks there are. Here the data is cut into blocks of a fixed
// number of rows (block k = rows [kR, (k+1)R) of the global dataset, or of the mini-batch), the
// leaves of a perfect binary tree; node (L, j) covers leaves [j 2^L, (j+1) 2^L) and its value is
// left child + right child, a node with no leaves being absent. Each rank owns a contiguous run of
// leaves and reduces every node whose leaves are all its own (a carry chain, like a binary
// counter: at most log2 N nodes held at once). The maximal such nodes are gathered on every rank
// (MPI_Allgatherv), and every rank evaluates the rest of the tree from them. Every node's value is
// then computed from the same operands in the same order on any number of ranks.
//
// Cost: the gather moves at most about 2 log2(N) vectors per rank instead of an allreduce's one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "pnn/error.hpp"

namespace pnn {

template <class D, class T>
class TreeSum {
public:
    TreeSum(D& device, std::size_t width) : dev_(&device), width_(width) {}

    // Starts a sum over `leaves` leaves (blocks), of vectors of `width` values (0: costs only).
    void reset(std::size_t leaves, std::size_t width) {
        leaves_ = leaves;
        width_ = width;
        stack_.clear();
        std::size_t depth = 1;
        while ((std::size_t(1) << (depth - 1)) < leaves_) ++depth;
        // a carry chain holds at most one node per level, plus the leaf being added
        while (pool_.size() < depth + 2) pool_.push_back(dev_->template make_buffer<T>(std::max<std::size_t>(width_, 1)));
        for (auto& b : pool_)
            if (dev_->size(b) < width_) b = dev_->template make_buffer<T>(width_);
    }

    // The buffer the next leaf is to be computed into (the caller zeroes it).
    T* leaf() { return dev_->data(pool_[free_slot()]); }

    // Adds the leaf just computed into leaf(), with its index and cost, to this rank's chain.
    void push(std::size_t index, double cost) {
        Node node{0, index, cost, free_slot()};
        // While the node is a right child whose left sibling tops the chain, merge them.
        while (!stack_.empty() && stack_.back().level == node.level && (node.index & 1) == 1 &&
               stack_.back().index + 1 == node.index) {
            Node left = stack_.back();
            stack_.pop_back();
            dev_->add(dev_->data(pool_[left.slot]), dev_->data(pool_[node.slot]), width_);
            node = Node{left.level + 1, left.index / 2, left.cost + node.cost, left.slot};
        }
        stack_.push_back(node);
    }

    // Gathers every rank's chain and evaluates the tree's root on every rank: the sum goes to
    // out (width values, device memory), the cost's sum is returned. Collective.
    template <class C>
    double finish(C& comm, T* out) {
        // This rank's nodes as bytes: level, index, cost, then the values.
        const std::size_t record = header_bytes + width_ * sizeof(T);
        mine_.resize(stack_.size() * record);
        for (std::size_t k = 0; k < stack_.size(); ++k) {
            unsigned char* at = mine_.data() + k * record;
            const Node& n = stack_[k];
            const std::uint64_t head[2] = {n.level, n.index};
            std::memcpy(at, head, sizeof head);
            std::memcpy(at + sizeof head, &n.cost, sizeof n.cost);
            dev_->copy_out(reinterpret_cast<T*>(scratch(width_)), dev_->data(pool_[n.slot]), width_);
            std::memcpy(at + header_bytes, scratch_.data(), width_ * sizeof(T));
        }
        comm.allgather_bytes(mine_, all_);
        if (all_.size() % record != 0) detail::fail("internal: reproducible sum received a partial node");
        nodes_.clear();
        for (std::size_t at = 0; at < all_.size(); at += record) {
            std::uint64_t head[2];
            std::memcpy(head, all_.data() + at, sizeof head);
            nodes_.push_back({head[0], head[1], at});
        }
        std::size_t top = 0;
        while ((std::size_t(1) << top) < leaves_) ++top;
        return evaluate(top, 0, out, 0);
    }

private:
    static constexpr std::size_t header_bytes = 2 * sizeof(std::uint64_t) + sizeof(double);

    struct Node {
        std::size_t level;
        std::size_t index;
        double cost;
        std::size_t slot;  // which pool buffer holds its values
    };
    struct Gathered {
        std::uint64_t level, index;
        std::size_t at;  // where its record starts in all_
    };

    std::size_t free_slot() const {
        // slots in use are those of the chain; the chain's slots are distinct and few
        for (std::size_t s = 0; s < pool_.size(); ++s) {
            bool used = false;
            for (const Node& n : stack_) used = used || n.slot == s;
            if (!used) return s;
        }
        detail::fail("internal: reproducible sum ran out of buffers");
    }

    unsigned char* scratch(std::size_t values) {
        if (scratch_.size() < values * sizeof(T)) scratch_.resize(values * sizeof(T));
        return scratch_.data();
    }

    // The value of node (level, index) into dst; temporaries come from pool slots >= depth.
    double evaluate(std::size_t level, std::size_t index, T* dst, std::size_t depth) {
        for (const Gathered& g : nodes_)
            if (g.level == level && g.index == index) {
                const unsigned char* at = all_.data() + g.at;
                double cost;
                std::memcpy(&cost, at + 2 * sizeof(std::uint64_t), sizeof cost);
                std::memcpy(scratch(width_), at + header_bytes, width_ * sizeof(T));
                dev_->copy_in(dst, reinterpret_cast<const T*>(scratch_.data()), width_);
                return cost;
            }
        if (level == 0) detail::fail("internal: reproducible sum is missing block ", index);
        // Leaves are 0..N-1: a right child is absent when its first leaf is past the last one.
        const bool right = ((2 * index + 1) << (level - 1)) < leaves_;
        double cost = evaluate(level - 1, 2 * index, dst, depth);
        if (right) {
            T* tmp = dev_->data(pool_[depth]);
            cost += evaluate(level - 1, 2 * index + 1, tmp, depth + 1);
            dev_->add(dst, tmp, width_);
        }
        return cost;
    }

    D* dev_;
    std::size_t width_;
    std::size_t leaves_ = 0;
    std::vector<typename D::template buffer<T>> pool_;
    std::vector<Node> stack_;
    std::vector<unsigned char> mine_, all_, scratch_;
    std::vector<Gathered> nodes_;
};

}  // namespace pnn
