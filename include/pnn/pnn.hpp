// pnn: data-parallel training of neural networks on CPUs and GPUs, header-only.
// defines: everything below; include this one header.
#pragma once

#include "pnn/error.hpp"
#include "pnn/util/matrix_ref.hpp"
#include "pnn/data/dataset.hpp"
#include "pnn/data/idx.hpp"
#if __has_include(<matio.h>)
#include "pnn/data/mat.hpp"  // pnn::load_mat, where libmatio is installed (link -lmatio)
#endif
#include "pnn/device/device.hpp"
#include "pnn/device/cpu.hpp"
#include "pnn/device/cuda.hpp"  // pnn::Cuda, under nvcc only
#include "pnn/comm/comm.hpp"
#include "pnn/comm/local.hpp"
#include "pnn/comm/local_rank.hpp"
#if __has_include(<mpi.h>)
#include "pnn/comm/mpi.hpp"  // pnn::Mpi, where the build finds MPI
#endif
#include "pnn/nn/functions.hpp"
#include "pnn/nn/layout.hpp"
#include "pnn/nn/units.hpp"
#include "pnn/nn/mlp.hpp"
#include "pnn/nn/backprop.hpp"
#include "pnn/train/sgd.hpp"
#include "pnn/train/adam.hpp"
#include "pnn/train/optimizer.hpp"
#include "pnn/train/shuffle.hpp"
#include "pnn/train/stages.hpp"
#include "pnn/train/timeline.hpp"
#include "pnn/train/trainer.hpp"
#include "pnn/util/progress.hpp"
