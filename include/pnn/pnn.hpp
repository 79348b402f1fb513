// pnn: data-parallel training of neural networks on CPUs and GPUs, header-only.
// defines: everything below; include this one header.
#pragma once

#include "pnn/error.hpp"
#include "pnn/util/matrix_ref.hpp"
#include "pnn/data/dataset.hpp"
#include "pnn/data/idx.hpp"
// PNN_WITH_MATIO: whether this header brings the .mat loader (pnn::load_mat), which needs libmatio
// linked. The build says so (pnn::pnn and pnn.pc set it from pnn's PNN_MATIO); else it is
// there where <matio.h> is.
#ifndef PNN_WITH_MATIO
#if __has_include(<matio.h>)
#define PNN_WITH_MATIO 1
#else
#define PNN_WITH_MATIO 0
#endif
#endif
#if PNN_WITH_MATIO
#include "pnn/data/mat.hpp"  // pnn::load_mat (link libmatio)
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
