# pkg-config files for builds without CMake: pnn.pc (the CPU core), and where this machine has
# what they need, pnn-mpi.pc, pnn-cuda.pc and pnn-nccl.pc, each requiring pnn and adding its own
# part. Written from what cmake/pnnDependencies.cmake found, so the two cannot disagree.
set(pnn_pc_requires "xtensor zlib")
set(pnn_pc_libs "")
set(pnn_pc_cflags "-I\${includedir}")
if(PNN_BLAS STREQUAL "blis")
  get_filename_component(pnn_blis_dir "${PNN_BLIS_LIBRARY}" DIRECTORY)
  string(APPEND pnn_pc_libs " -L${pnn_blis_dir} -Wl,-rpath,${pnn_blis_dir} -lblis")
  string(APPEND pnn_pc_cflags " -I${PNN_BLIS_INCLUDE_DIR}")
else()
  string(APPEND pnn_pc_requires " ${PNN_BLAS}")
endif()
if(PNN_MATIO_USED)
  string(APPEND pnn_pc_requires " matio")
  string(APPEND pnn_pc_cflags " -DPNN_WITH_MATIO=1")
else()
  string(APPEND pnn_pc_cflags " -DPNN_WITH_MATIO=0")
endif()

# The prefix relative to the .pc file's own folder, so that an unpacked or moved tree (dpkg -x,
# a copied prefix) is found where it lies; installed, it is CMAKE_INSTALL_PREFIX.
file(RELATIVE_PATH pnn_pc_to_prefix "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" pnn_pc_to_prefix "${pnn_pc_to_prefix}")

function(pnn_write_pc name description requires cflags libs)
  file(WRITE ${PROJECT_BINARY_DIR}/${name}.pc
"prefix=\${pcfiledir}/${pnn_pc_to_prefix}
includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}

Name: ${name}
Description: ${description}
Version: ${PROJECT_VERSION}
Requires: ${requires}
Cflags: ${cflags}
Libs: ${libs}
")
  install(FILES ${PROJECT_BINARY_DIR}/${name}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()

pnn_write_pc(pnn "${PROJECT_DESCRIPTION}" "${pnn_pc_requires}" "${pnn_pc_cflags}" "${pnn_pc_libs}")
if(pnn_mpi_FOUND)
  # Open MPI's C++ flags (Debian: mpi-cxx.pc, as mpicxx uses)
  pnn_write_pc(pnn-mpi "pnn with pnn::Mpi (MPI)" "pnn mpi-cxx" "" "")
endif()
if(pnn_cuda_FOUND)
  # For nvcc: the toolkit has no .pc files of its own.
  pnn_write_pc(pnn-cuda "pnn with pnn::Cuda (cuBLAS, for nvcc)" "pnn" "-I${CUDAToolkit_INCLUDE_DIRS}"
               "-L${CUDAToolkit_LIBRARY_DIR} -lcublas -lcudart")
endif()
if(pnn_nccl_FOUND)
  get_filename_component(pnn_nccl_dir "${PNN_NCCL_LIBRARY}" DIRECTORY)
  pnn_write_pc(pnn-nccl "pnn with pnn::Nccl (NCCL, for nvcc)" "pnn-cuda" "-I${PNN_NCCL_INCLUDE} -DPNN_WITH_NCCL=1"
               "-L${pnn_nccl_dir} -lnccl")
endif()
