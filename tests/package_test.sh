#!/usr/bin/env bash
# The Debian package: configures pnn for /usr, makes libpnn-dev with `cpack -G DEB`, checks what
# it holds and what it depends on, unpacks it (dpkg -x) into a scratch root as it would be
# installed (this machine has its dependencies; a root of its own per run would cost CI minutes),
# and builds the README's 15-line program against the unpacked tree with CMake's
# find_package(pnn) and with pkg-config, as a user of the package would.
#
#   package_test.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
command -v dpkg-deb > /dev/null || { echo "skipped: no dpkg-deb (not a Debian system)"; exit 77; }

cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_INSTALL_PREFIX=/usr \
  -DPNN_BUILD_TESTS=OFF -DPNN_BUILD_EXAMPLES=OFF -DPNN_BUILD_BENCHMARKS=OFF > "$work/configure.log"
(cd "$work/build" && cpack -G DEB > "$work/cpack.log")
deb=$(find "$work/build" -maxdepth 1 -name 'libpnn-dev_*.deb' | head -n 1)
[ -n "$deb" ] || { cat "$work/cpack.log"; echo "FAILED: cpack made no libpnn-dev package"; exit 1; }
echo "== $(basename "$deb")"
dpkg-deb -f "$deb" Package Version Architecture Depends Recommends

set +e  # each check below reports, and the test fails at the end if one did
failed=0
check() { if [ "$1" -eq 0 ]; then echo "ok: $2"; else echo "FAILED: $2"; failed=1; fi; }
contents=$(dpkg-deb -c "$deb")
for f in ./usr/include/pnn/pnn.hpp ./usr/bin/pnn-launch pnn/pnnConfig.cmake pnn/pnnDependencies.cmake pkgconfig/pnn.pc; do
  grep -q -- "$f\$" <<< "$contents"
  check $? "the package holds $f"
done
# Every package it depends on or recommends is a real Debian package (here: installed).
for field in Depends Recommends; do
  for p in $(dpkg-deb -f "$deb" "$field" | tr ',|' '\n\n' | awk '{print $1}'); do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ]
    check $? "$field: $p is installed here"
  done
done
grep -q "libmatio-dev\|libopenblas-dev\|libxtensor-dev" <<< "$(dpkg-deb -f "$deb" Depends)"
check $? "it depends on the core's libraries"

root="$work/root"
dpkg-deb -x "$deb" "$root"
mkdir -p "$work/app"
python3 - "$src/README.md" "$work/app/app.cpp" << 'PY'
import sys
# the README's first C++ block: its 15-line program
text = open(sys.argv[1]).read()
block = text.split("```cpp\n", 1)[1].split("```", 1)[0]
open(sys.argv[2], "w").write(block)
PY
cat > "$work/app/CMakeLists.txt" << 'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(pnn_deb_user LANGUAGES CXX)
find_package(pnn 0.1 REQUIRED)
add_executable(app app.cpp)
target_link_libraries(app PRIVATE pnn::pnn)
CMAKE
echo "== CMake find_package(pnn) from the unpacked package"
cmake -S "$work/app" -B "$work/app/build" -G Ninja -DCMAKE_PREFIX_PATH="$root/usr" > "$work/app-configure.log" 2>&1 &&
  cmake --build "$work/app/build" > "$work/app-build.log" 2>&1
check $? "the 15-line program builds with CMake against the package"
grep -q -- "-I$root/usr/include\|isystem $root/usr/include" "$work/app/build/build.ninja" 2> /dev/null || \
  grep -rq "$root/usr/include" "$work/app/build/CMakeFiles" 2> /dev/null
check $? "... with the package's headers"
echo "== g++ \$(pkg-config --cflags --libs pnn) from the unpacked package"
pc=$(dirname "$(find "$root" -name pnn.pc | head -n 1)")
flags=$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs pnn)
first_include=$(tr ' ' '\n' <<< "$flags" | grep -m1 '^-I' | cut -c3-)
[ "$(realpath "$first_include")" = "$(realpath "$root/usr/include")" ]
check $? "pkg-config points at the package's headers ($first_include)"
# shellcheck disable=SC2086
g++ -std=c++20 -O2 "$work/app/app.cpp" -o "$work/app/app_pc" $flags
check $? "the 15-line program builds with pkg-config against the package"
if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  OPENBLAS_NUM_THREADS=1 "$work/app/app_pc"
  check $? "and runs"
fi
[ "$failed" -eq 0 ] && echo "package_test: passed"
exit $failed
