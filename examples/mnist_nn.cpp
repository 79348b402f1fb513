// mnist_nn: the seed's program (a sigmoid net trained by gradient descent) on real data.
//
//   mnist_nn                                  # Fashion-MNIST, 5000 images, 784-25-10, full batch,
//                                             # learning rate 2, 1000 iterations, float64
//   mnist_nn --train-samples 0 --hidden 256 --batch-size 256 --iterations 4700 --precision float
//
//   mnist_nn --data ex4data1.mat --weights ex4weights.mat --iterations 0   # the seed's evaluation
//   mnist_nn --data ex4data1.mat --hidden 25 --iterations 50               # the seed's training
//
// Prints the cost per iteration, train and test accuracy and the time per iteration. With
// --data, the samples come from a MATLAB file (variables X and y, the seed's labels 1..10 where
// 10 is digit 0, unless --zero-based-labels), all of them unless --train-samples is given, and
// there is no test set. With --weights, training starts from the file's Theta1, Theta2, ...,
// whose cost (λ = --lambda, 0 by default) and accuracy are printed first.
#include "example.hpp"

namespace {

template <class T>
int run(const example::Options& o) {
    return example::train<T>(o, pnn::Local{o.reproducible_block}, [&](const std::string& split, std::size_t n) {
#if PNN_WITH_MATIO
        if (!o.data_file.empty()) {  // a .mat file: its samples are the training set, no test set
            if (split != "train") return pnn::Dataset<T>();
            pnn::MatOptions mat;
            mat.one_based = !o.zero_based;
            mat.limit = n;
            return pnn::load_mat<T>(o.data_file, mat);
        }
#endif
        pnn::IdxOptions idx;
        if (n > 0) idx.rows = {0, n};
        return pnn::load_idx<T>(example::images_of(o, split), example::labels_of(o, split), idx);
    });
}

}  // namespace

int main(int argc, char** argv) {
    example::Options o;
    CLI::App app{"Train a network (the seed's sigmoid net by default; --activation, --output) on Fashion-MNIST (or MNIST) IDX files."};
    example::add_options(app, o);
#if PNN_WITH_MATIO  // (built without libmatio, mnist_nn reads no .mat file, and says so for these flags)
    app.add_option("--data", o.data_file, "a MATLAB .mat dataset (variables X and y) instead of the IDX files")
        ->check(CLI::ExistingFile);
    app.add_option("--weights", o.weights_file, "a MATLAB .mat net (Theta1, Theta2, ...) to evaluate and start from")
        ->check(CLI::ExistingFile);
    app.add_flag("--zero-based-labels", o.zero_based, ".mat labels are the classes themselves (not the seed's 1..10)");
#endif
    if (const int status = example::parse(app, o, argc, argv, "mnist_nn", true); status >= 0) return status;
    // A .mat dataset is used whole unless --train-samples says otherwise.
    if (!o.data_file.empty() && app.count("--train-samples") == 0) o.train_samples = 0;
    try {
        pnn::Cpu::set_threads(o.threads);
        return o.precision == "float" ? run<float>(o) : run<double>(o);
    } catch (const pnn::error& e) {
        std::fprintf(stderr, "mnist_nn: %s\n", e.what());
        return 1;
    }
}
