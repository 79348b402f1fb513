// mnist_nn_cuda built by nvcc, with --device cuda (pnn::Cuda): the same program as mnist_nn.cpp.
#include "mnist_nn.cpp"
