// libtorch_seed: the seed's workload in PyTorch's C++ API (Debian's libtorch-dev), written as
// torch_seed.py writes it in Python: one full-batch iteration of a 400-25-10 sigmoid net with the
// seed's cost, by autograd, on one thread. Prints "libtorch PRECISION median_ms min_ms max_ms".
//
//   libtorch_seed [--repeats N] [--samples M] [--hidden H]
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "../report.hpp"

namespace {

bench::Stats run(torch::Dtype dtype, int64_t m, int64_t n, int64_t h, int64_t k, int repeats) {
    torch::manual_seed(1);
    const auto opts = torch::TensorOptions().dtype(dtype);
    const torch::Tensor x = torch::rand({m, n}, opts);
    const torch::Tensor y = torch::arange(m) % k;
    const torch::Tensor onehot = torch::one_hot(y, k).to(dtype);
    torch::Tensor w1 = ((torch::rand({h, n + 1}, opts) * 2 - 1) * 0.12).requires_grad_();
    torch::Tensor w2 = ((torch::rand({k, h + 1}, opts) * 2 - 1) * 0.12).requires_grad_();
    const double lr = 0.1;
    namespace F = torch::nn::functional;
    return bench::time_steps(
        [&] {
            const auto a1 = torch::sigmoid(torch::addmm(w1.select(1, 0), x, w1.slice(1, 1).t()));
            const auto z2 = torch::addmm(w2.select(1, 0), a1, w2.slice(1, 1).t());
            const auto cost =
                F::binary_cross_entropy_with_logits(z2, onehot, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kSum)) /
                double(m);
            w1.mutable_grad() = torch::Tensor();
            w2.mutable_grad() = torch::Tensor();
            cost.backward();
            {
                torch::NoGradGuard no_grad;
                w1.sub_(lr * w1.grad());
                w2.sub_(lr * w2.grad());
            }
            (void)cost.item<double>();  // the cost of every iteration, as pnn's fit records it
        },
        repeats);
}

}  // namespace

int main(int argc, char** argv) {
    int repeats = 40;
    int64_t m = 5000, h = 25;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
        else if (a == "--samples") m = std::stoll(argv[i + 1]);
        else if (a == "--hidden") h = std::stoll(argv[i + 1]);
        else {
            std::fprintf(stderr, "libtorch_seed: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    torch::set_num_threads(1);
    bench::report("libtorch", "float64", run(torch::kFloat64, m, 400, h, 10, repeats));
    bench::report("libtorch", "float32", run(torch::kFloat32, m, 400, h, 10, repeats));
}
