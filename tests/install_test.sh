#!/usr/bin/env bash
# Installs pnn into a scratch prefix, then builds outside programs against the installed tree as
# a user would, using only what the package gives (no find_package(MPI), no -lcublas of their
# own): the CPU core with CMake find_package(pnn) and with g++ and pkg-config; a pnn::Mpi program
# with find_package(pnn COMPONENTS mpi) and with pkg-config's pnn-mpi, run on 2 ranks; and, where
# nvcc is, a pnn::Cuda program with find_package(pnn COMPONENTS cuda) and pkg-config's pnn-cuda.
# Each program trains a little and checks the cost fell. A component pnn lacks fails with a
# message that names it; and meson's install of the same tree writes the same pkg-config
# requirements and flags as CMake's.
set -euo pipefail
src=$1
work=$2
rm -rf "$work"
mkdir -p "$work/app"
prefix="$work/prefix"

cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DPNN_BUILD_TESTS=OFF -DPNN_BUILD_EXAMPLES=OFF -DPNN_BUILD_BENCHMARKS=OFF > "$work/configure.log"
cmake --install "$work/build" > "$work/install.log"
test -f "$prefix/include/pnn/pnn.hpp"
test -x "$prefix/bin/pnn-launch"  # the launcher, runnable from the prefix
launcher_help=$("$prefix/bin/pnn-launch" --help 2>&1)  # read whole: see scripts/test on grep -q under pipefail
grep -q "max-restarts" <<< "$launcher_help"
test -f "$prefix/lib/pkgconfig/pnn.pc" || test -f "$prefix"/lib/*/pkgconfig/pnn.pc

# Each program trains a little on xor (xor.hpp, written once) and checks that the cost fell.
cat > "$work/app/xor.hpp" <<'CPP'
#include <pnn/pnn.hpp>
#include <cstdio>
template <class T, class Trainer>
int train_xor(Trainer& trainer, const char* where) {
    xt::xtensor<T, 2> x = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    xt::xtensor<int, 1> y = {0, 1, 1, 0};
    pnn::Dataset<T> data(x, y);  // the whole dataset on every rank: each takes its rows
    const double before = trainer.cost(data);
    pnn::Sgd opt;
    opt.iterations = 200;
    trainer.fit(data, opt);
    const double after = trainer.cost(data);
    std::printf("%scost %.4f -> %.4f\n", where, before, after);
    return after < before ? 0 : 1;
}
CPP
cat > "$work/app/app.cpp" <<'CPP'
#include "xor.hpp"
int main() {
    pnn::Trainer<pnn::Mlp<double>, pnn::Cpu, pnn::Local> trainer(pnn::Mlp<double>({2, 4, 2}, 3));
    return train_xor<double>(trainer, "");
}
CPP
cat > "$work/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(pnn_user LANGUAGES CXX)
find_package(pnn 0.1 REQUIRED)
add_executable(app app.cpp)
target_link_libraries(app PRIVATE pnn::pnn)
CMAKE

cat > "$work/app/mpi_app.cpp" <<'CPP'
#include "xor.hpp"
int main(int argc, char** argv) {
    pnn::MpiSession session(&argc, &argv);
    const pnn::Mpi comm(MPI_COMM_WORLD);
    pnn::Trainer<pnn::Mlp<double>, pnn::Cpu, pnn::Mpi> trainer(pnn::Mlp<double>({2, 4, 2}, 3), comm);
    const std::string where = "rank " + std::to_string(comm.rank()) + " of " + std::to_string(comm.size()) + ": ";
    return train_xor<double>(trainer, where.c_str());
}
CPP
cat > "$work/app/cuda_app.cu" <<'CPP'
#include "xor.hpp"
int main() {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("no CUDA device: built, not run\n");
        return 0;
    }
    pnn::Trainer<pnn::Mlp<float>, pnn::Cuda> trainer(pnn::Mlp<float>({2, 4, 2}, 3), pnn::Local{}, pnn::Cuda{});
    return train_xor<float>(trainer, "on the GPU: ");
}
CPP
mkdir -p "$work/app/mpi" "$work/app/cuda" "$work/app/none"
cat > "$work/app/mpi/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(pnn_mpi_user LANGUAGES CXX)
find_package(pnn 0.1 REQUIRED COMPONENTS mpi)
add_executable(mpi_app $work/app/mpi_app.cpp)
target_link_libraries(mpi_app PRIVATE pnn::mpi)
CMAKE
cat > "$work/app/cuda/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(pnn_cuda_user LANGUAGES CXX CUDA)
set(CMAKE_CUDA_ARCHITECTURES 90)
find_package(pnn 0.1 REQUIRED COMPONENTS cuda)
add_executable(cuda_app $work/app/cuda_app.cu)
target_link_libraries(cuda_app PRIVATE pnn::cuda)
CMAKE
cat > "$work/app/none/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(pnn_wrong_user LANGUAGES CXX)
find_package(pnn 0.1 REQUIRED COMPONENTS mpi nosuch)
CMAKE
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

echo "== CMake find_package(pnn)"
cmake -S "$work/app" -B "$work/app/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > "$work/app-configure.log"
cmake --build "$work/app/build" > "$work/app-build.log"
"$work/app/build/app"

pc_dir=$(dirname "$(find "$prefix" -name pnn.pc | head -n 1)")
export PKG_CONFIG_PATH="$pc_dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
echo "== g++ \$(pkg-config --cflags --libs pnn)"
# shellcheck disable=SC2046
g++ -std=c++20 -O2 "$work/app/app.cpp" -o "$work/app/app_pc" $(pkg-config --cflags --libs pnn)
"$work/app/app_pc"

echo "== a component pnn lacks: find_package(pnn REQUIRED COMPONENTS mpi nosuch) fails and names it"
if cmake -S "$work/app/none" -B "$work/app/none/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > "$work/none.log" 2>&1; then
  echo "FAILED: a missing component configured"; exit 1
fi
grep -q "pnn has no component 'nosuch'" "$work/none.log" || { cat "$work/none.log"; echo "FAILED: no message naming it"; exit 1; }

if command -v mpirun > /dev/null && pkg-config --exists mpi-cxx; then
  echo "== CMake find_package(pnn COMPONENTS mpi), pnn::mpi, 2 ranks"
  cmake -S "$work/app/mpi" -B "$work/app/mpi/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > "$work/mpi-configure.log"
  cmake --build "$work/app/mpi/build" > "$work/mpi-build.log"
  mpirun --oversubscribe -np 2 "$work/app/mpi/build/mpi_app"
  echo "== g++ \$(pkg-config --cflags --libs pnn-mpi), 2 ranks"
  # shellcheck disable=SC2046
  g++ -std=c++20 -O2 "$work/app/mpi_app.cpp" -o "$work/app/mpi_app_pc" $(pkg-config --cflags --libs pnn-mpi)
  mpirun --oversubscribe -np 2 "$work/app/mpi_app_pc"
else
  echo "== MPI: not found (mpirun, mpi-cxx.pc), the pnn::mpi builds are left out"
fi

# pc_field FILE FIELD: a .pc file's field as a sorted set of words, less the build's own -I.
pc_field() {
  { grep "^$2:" "$1" || true; } | cut -d: -f2- | tr ', ' '\n\n' | { grep -v -e '^-I\${includedir}$' -e '^$' || true; } | sort -u | tr '\n' ' '
}
echo "== meson's install writes the pkg-config requirements and flags CMake's does"
if command -v meson > /dev/null; then
  meson setup "$work/meson" "$src" -Dtests=false -Dexamples=false -Dbenchmarks=false -Dcuda=disabled > "$work/meson.log"
  meson install -C "$work/meson" --destdir "$work/meson-root" > "$work/meson-install.log"
  for pc in pnn pnn-mpi; do
    cmake_pc=$(find "$prefix" -name "$pc.pc" | head -n 1)
    meson_pc=$(find "$work/meson-root" -name "$pc.pc" | head -n 1)
    [ -n "$cmake_pc" ] || [ -n "$meson_pc" ] || continue
    [ -n "$cmake_pc" ] && [ -n "$meson_pc" ] || { echo "FAILED: $pc.pc from one build only (CMake: ${cmake_pc:-none}, meson: ${meson_pc:-none})"; exit 1; }
    # requirements as a set; flags as a set, less each build's own include folder
    for what in Requires Cflags Libs; do
      a=$(pc_field "$cmake_pc" "$what")
      b=$(pc_field "$meson_pc" "$what")
      [ "$a" = "$b" ] || { echo "FAILED: $pc.pc's $what: CMake '$a', meson '$b'"; exit 1; }
    done
    echo "ok: $pc.pc the same from both"
  done
else
  echo "== meson: not found, the comparison is left out"
fi
nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ]; then
  echo "== nvcc \$(pkg-config --cflags --libs pnn)"
  cp "$work/app/app.cpp" "$work/app/app.cu"
  # shellcheck disable=SC2046
  "$nvcc" -std=c++20 -O2 "$work/app/app.cu" -o "$work/app/app_cu" $(pkg-config --cflags --libs pnn)
  "$work/app/app_cu"
  echo "== CMake find_package(pnn COMPONENTS cuda), pnn::cuda"
  cmake -S "$work/app/cuda" -B "$work/app/cuda/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_CUDA_COMPILER="$nvcc" > "$work/cuda-configure.log"
  cmake --build "$work/app/cuda/build" > "$work/cuda-build.log"
  "$work/app/cuda/build/cuda_app"
  echo "== nvcc \$(pkg-config --cflags --libs pnn-cuda)"
  # shellcheck disable=SC2046
  "$nvcc" -std=c++20 -O2 "$work/app/cuda_app.cu" -o "$work/app/cuda_app_pc" $(pkg-config --cflags --libs pnn-cuda)
  "$work/app/cuda_app_pc"
else
  echo "== nvcc: not found, the nvcc build is left out"
fi
echo "install_test: passed"
