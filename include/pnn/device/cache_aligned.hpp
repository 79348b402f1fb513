// defines: pnn::detail::cache_aligned_allocator, the allocator of pnn::Cpu's buffers: every
// buffer starts on a 64-byte cache line.
//
// Why: the allocator xtensor uses by default (std::allocator) hands a large block out of mmap
// 16 bytes past a page boundary, so every 64-byte AVX-512 load and store of such a buffer spans
// two cache lines. Adam's fused update on 64 Mi floats took 1.45-1.5x its bandwidth limit that way
// and 1.0x from aligned buffers (AMD EPYC family 26, benchmarks/adam_update, 2026-12-06). The
// element type and the container stay xtensor's; only where the memory starts changes.
#pragma once
#include <cstddef>
#include <new>

namespace pnn::detail {

template <class T>
struct cache_aligned_allocator {
    using value_type = T;
    static constexpr std::align_val_t alignment{64};

    cache_aligned_allocator() = default;
    template <class U>
    constexpr cache_aligned_allocator(const cache_aligned_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
        return static_cast<T*>(::operator new(n * sizeof(T), alignment));
    }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, alignment); }

    template <class U>
    struct rebind {
        using other = cache_aligned_allocator<U>;
    };
    template <class U>
    bool operator==(const cache_aligned_allocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace pnn::detail
