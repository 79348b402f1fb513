// defines: pnn::epoch_order, the sample order of one epoch of mini-batch training, a function of
// (seed, epoch) alone, so that every rank, every run and every restart agrees on it.
#pragma once
#include "pnn/config.hpp"
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

namespace pnn {

namespace detail {
// SplitMix64 (Steele, Lea, Flood 2014): turns (seed, epoch) into independent generator states.
inline std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// xoshiro256** would do as well; SplitMix64 in counter mode is enough for shuffling and is
// defined here in full, unlike std::shuffle, whose sequence differs between standard libraries.
struct SplitMixStream {
    std::uint64_t state;
    std::uint64_t next() { return splitmix64(state++); }
    // Uniform in [0, bound) without modulo bias (Lemire 2019: multiply, reject the short range).
    std::uint64_t below(std::uint64_t bound) {
        detail::uint128 m = (detail::uint128)next() * bound;
        auto low = std::uint64_t(m);
        if (low < bound) {
            const std::uint64_t threshold = -bound % bound;
            while (low < threshold) {
                m = (detail::uint128)next() * bound;
                low = std::uint64_t(m);
            }
        }
        return std::uint64_t(m >> 64);
    }
};
}  // namespace detail

// Fills order with a permutation of 0..n-1 (Fisher-Yates), reusing its storage.
inline void epoch_order(std::vector<std::size_t>& order, std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
    order.resize(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    detail::SplitMixStream rng{detail::splitmix64(seed) ^ detail::splitmix64(~epoch)};
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
}

}  // namespace pnn
