// defines: pnn::Adam, the settings of Adam and AdamW (PyTorch's torch.optim.Adam and AdamW, with
// the bias columns in a group of weight decay 0), and pnn::Optimizer, either kind of settings.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <variant>

#include "pnn/error.hpp"
#include "pnn/train/sgd.hpp"

namespace pnn {

// Update t (1-based, counted since the optimizer's state began), per element, g the gradient
// (with the L2 term of lambda, as Sgd's), bias entries excluded from the decay only:
//   θ ← θ (1 − lr·wd)                         decoupled weight decay (AdamW; wd = 0: Adam)
//   m ← β1 m + (1 − β1) g
//   v ← β2 v + (1 − β2) g²
//   θ ← θ − (lr / (1 − β1ᵗ)) m / (√v / √(1 − β2ᵗ) + ε)
// The defaults are PyTorch's.
struct Adam {
    double learning_rate = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double epsilon = 1e-8;
    double weight_decay = 0.0;      // decoupled, bias columns excluded
    double lambda = 0.0;            // L2 in the cost, as Sgd's (bias columns excluded)
    std::size_t iterations = 100;   // number of updates (not epochs)
    std::size_t batch_size = 0;     // 0 = full batch; else B samples per update
    std::uint64_t seed = 0;         // seeds the per-epoch shuffle of mini-batches

    // Checks every setting against a dataset of `samples` rows; throws pnn::error naming it.
    void validate(std::size_t samples) const {
        if (!(learning_rate > 0) || !std::isfinite(learning_rate))
            detail::fail("Adam learning_rate: expected a finite value > 0, found ", learning_rate);
        if (!(beta1 >= 0 && beta1 < 1)) detail::fail("Adam beta1: expected a value in [0, 1), found ", beta1);
        if (!(beta2 >= 0 && beta2 < 1)) detail::fail("Adam beta2: expected a value in [0, 1), found ", beta2);
        if (!(epsilon > 0) || !std::isfinite(epsilon)) detail::fail("Adam epsilon: expected a finite value > 0, found ", epsilon);
        if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
            detail::fail("Adam weight_decay: expected a finite value >= 0, found ", weight_decay);
        if (!(lambda >= 0) || !std::isfinite(lambda)) detail::fail("Adam lambda: expected a finite value >= 0, found ", lambda);
        if (batch_size > samples)
            detail::fail("Adam batch_size: expected at most the ", samples, " samples of the dataset (or 0 for full batch), found ",
                         batch_size);
    }
};

// The settings of either optimizer: what load_checkpoint returns, and what fit takes.
using Optimizer = std::variant<Sgd, Adam>;

inline const char* name_of(const Optimizer& o) { return std::holds_alternative<Adam>(o) ? "Adam" : "Sgd"; }

}  // namespace pnn
