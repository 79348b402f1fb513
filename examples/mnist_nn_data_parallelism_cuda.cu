// mnist_nn_data_parallelism_cuda built by nvcc, with --device cuda (pnn::Cuda): the same program as mnist_nn_data_parallelism.cpp.
#include "mnist_nn_data_parallelism.cpp"
