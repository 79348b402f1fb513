// defines: pnn::Sgd, the settings of gradient descent: full batch as the seed, or mini-batches.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "pnn/error.hpp"

namespace pnn {

struct Sgd {
    double learning_rate = 2.0;    // η, the seed's value
    std::size_t iterations = 1000;  // number of updates (not epochs), the seed's value
    std::size_t batch_size = 0;    // 0 = full batch; else B samples per update
    double momentum = 0.0;         // μ of heavy-ball momentum, in [0, 1)
    double lambda = 0.0;           // L2 strength; bias columns excluded
    std::uint64_t seed = 0;        // seeds the per-epoch shuffle of mini-batches

    // Checks every setting against a dataset of `samples` rows; throws pnn::error naming it.
    void validate(std::size_t samples) const {
        if (!(learning_rate > 0) || !std::isfinite(learning_rate))
            detail::fail("Sgd learning_rate: expected a finite value > 0, found ", learning_rate);
        if (!(momentum >= 0 && momentum < 1))
            detail::fail("Sgd momentum: expected a value in [0, 1), found ", momentum);
        if (!(lambda >= 0) || !std::isfinite(lambda))
            detail::fail("Sgd lambda: expected a finite value >= 0, found ", lambda);
        if (batch_size > samples)
            detail::fail("Sgd batch_size: expected at most the ", samples, " samples of the dataset (or 0 for full batch), found ",
                         batch_size);
    }
};

}  // namespace pnn
