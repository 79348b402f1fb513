#!/usr/bin/env bash
# Installs pnn into a scratch prefix, then builds one outside program against the installed tree
# three ways, as a user would: CMake find_package(pnn), g++ with pkg-config, and (when nvcc is
# there) nvcc with pkg-config. Each program trains a little and checks the cost fell.
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
"$prefix/bin/pnn-launch" --help 2>&1 | grep -q "max-restarts"
test -f "$prefix/lib/pkgconfig/pnn.pc" || test -f "$prefix"/lib/*/pkgconfig/pnn.pc

cat > "$work/app/app.cpp" <<'CPP'
#include <pnn/pnn.hpp>
#include <cstdio>
int main() {
    xt::xtensor<double, 2> x = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    xt::xtensor<int, 1> y = {0, 1, 1, 0};  // xor
    pnn::Dataset<double> data(x, y);
    pnn::Trainer<pnn::Mlp<double>, pnn::Cpu, pnn::Local> trainer(pnn::Mlp<double>({2, 4, 2}, 3));
    const double before = trainer.cost(data);
    pnn::Sgd opt;
    opt.iterations = 200;
    trainer.fit(data, opt);
    const double after = trainer.cost(data);
    std::printf("cost %.4f -> %.4f\n", before, after);
    return after < before ? 0 : 1;
}
CPP
cat > "$work/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(pnn_user LANGUAGES CXX)
find_package(pnn 0.1 REQUIRED)
add_executable(app app.cpp)
target_link_libraries(app PRIVATE pnn::pnn)
CMAKE

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
nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ]; then
  echo "== nvcc \$(pkg-config --cflags --libs pnn)"
  cp "$work/app/app.cpp" "$work/app/app.cu"
  # shellcheck disable=SC2046
  "$nvcc" -std=c++20 -O2 "$work/app/app.cu" -o "$work/app/app_cu" $(pkg-config --cflags --libs pnn)
  "$work/app/app_cu"
else
  echo "== nvcc: not found, the nvcc build is left out"
fi
echo "install_test: passed"
