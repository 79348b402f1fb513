// mnist_nn: the seed's program (a sigmoid net trained by gradient descent) on real data.
//
//   mnist_nn                                  # Fashion-MNIST, 5000 images, 784-25-10, full batch,
//                                             # learning rate 2, 1000 iterations, float64
//   mnist_nn --train-samples 0 --hidden 256 --batch-size 256 --iterations 4700 --precision float
//
// Prints the cost per iteration, train and test accuracy and the time per iteration.
#include "example.hpp"

namespace {

template <class T>
int run(const example::Options& o) {
    return example::train<T>(o, pnn::Local{}, [&](const std::string& split, std::size_t n) {
        pnn::IdxOptions idx;
        if (n > 0) idx.rows = {0, n};
        return pnn::load_idx<T>(example::images_of(o, split), example::labels_of(o, split), idx);
    });
}

}  // namespace

int main(int argc, char** argv) {
    example::Options o;
    CLI::App app{"Train the seed's sigmoid network on Fashion-MNIST (or MNIST) IDX files."};
    example::add_options(app, o);
    if (const int status = example::parse(app, argc, argv, "mnist_nn", true); status >= 0) return status;
    try {
        pnn::Cpu::set_threads(o.threads);
        return o.precision == "float" ? run<float>(o) : run<double>(o);
    } catch (const pnn::error& e) {
        std::fprintf(stderr, "mnist_nn: %s\n", e.what());
        return 1;
    }
}
