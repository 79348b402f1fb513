# pnn's dependencies, found in one place: by pnn's own build (CMakeLists.txt) and by a project
# that uses the installed package (pnnConfig.cmake includes this file, after setting the choices
# pnn was built and tested with). Each part is an imported target:
#
#   pnn::blas    the cblas: PNN_BLAS names a pkg-config module (openblas, the default), or is
#                "blis" for Debian's BLIS (libblis-dev), which has no .pc file: its library and
#                cblas.h lie in a folder per threading model (blis-openmp, -pthread, -serial)
#   pnn::matio   libmatio, for MATLAB .mat files, where PNN_MATIO is ON (AUTO: where found)
#   pnn::mpi     pnn::pnn with MPI (MPI::MPI_CXX): pnn::Mpi
#   pnn::cuda    pnn::pnn with the CUDA toolkit's cuBLAS and runtime, C++20 under nvcc: pnn::Cuda
#   pnn::nccl    pnn::cuda with NCCL: pnn::Nccl
#
# pnn_find_core(REQUIRED_OR_QUIET) makes pnn::blas and pnn::matio (the core's, which pnn::pnn
# links); pnn_find_component(NAME) makes pnn::NAME and sets pnn_NAME_FOUND, and where the machine
# lacks what it needs, pnn_NAME_NOT_FOUND_MESSAGE says what.
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)

set(PNN_COMPONENTS mpi cuda nccl)

macro(pnn_find_core)
  find_package(PkgConfig REQUIRED)
  find_package(xtensor REQUIRED)
  find_package(ZLIB REQUIRED)
  if(NOT TARGET pnn::blas)
    if(PNN_BLAS STREQUAL "blis")
      find_library(PNN_BLIS_LIBRARY blis PATH_SUFFIXES blis-openmp blis-pthread blis-serial)
      find_path(PNN_BLIS_INCLUDE_DIR cblas.h PATH_SUFFIXES blis-openmp blis-pthread blis-serial)
      if(NOT PNN_BLIS_LIBRARY OR NOT PNN_BLIS_INCLUDE_DIR)
        message(FATAL_ERROR "pnn: PNN_BLAS=blis: expected Debian's BLIS (libblis-dev: libblis.so and cblas.h under "
                            "blis-openmp, blis-pthread or blis-serial), found library '${PNN_BLIS_LIBRARY}', "
                            "header folder '${PNN_BLIS_INCLUDE_DIR}'")
      endif()
      add_library(pnn::blas INTERFACE IMPORTED GLOBAL)
      set_target_properties(pnn::blas PROPERTIES INTERFACE_LINK_LIBRARIES "${PNN_BLIS_LIBRARY}"
                                                 INTERFACE_INCLUDE_DIRECTORIES "${PNN_BLIS_INCLUDE_DIR}")
    else()
      pkg_check_modules(PNN_BLAS_PC QUIET IMPORTED_TARGET GLOBAL ${PNN_BLAS})
      if(NOT PNN_BLAS_PC_FOUND)
        message(FATAL_ERROR "pnn: PNN_BLAS=${PNN_BLAS}: expected a pkg-config module of that name (a cblas: openblas, "
                            "the default, from libopenblas-dev) or 'blis', found no ${PNN_BLAS}.pc")
      endif()
      add_library(pnn::blas INTERFACE IMPORTED GLOBAL)
      set_target_properties(pnn::blas PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::PNN_BLAS_PC)
    endif()
  endif()
  if(NOT TARGET pnn::matio AND NOT PNN_MATIO STREQUAL "OFF")
    pkg_check_modules(PNN_MATIO_PC QUIET IMPORTED_TARGET GLOBAL matio)
    if(PNN_MATIO_PC_FOUND)
      add_library(pnn::matio INTERFACE IMPORTED GLOBAL)
      set_target_properties(pnn::matio PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::PNN_MATIO_PC)
    elseif(PNN_MATIO STREQUAL "ON")
      message(FATAL_ERROR "pnn: PNN_MATIO=ON: expected libmatio (libmatio-dev, matio.pc), found none")
    endif()
  endif()
  # What pnn::pnn carries beside its headers: the .mat loader only where libmatio is linked.
  if(TARGET pnn::matio)
    set(PNN_MATIO_USED ON)
  else()
    set(PNN_MATIO_USED OFF)
  endif()
endmacro()

macro(pnn_find_component name)
  set(pnn_${name}_FOUND FALSE)
  if(TARGET pnn::${name})
    set(pnn_${name}_FOUND TRUE)
  elseif("${name}" STREQUAL "mpi")
    find_package(MPI QUIET COMPONENTS CXX)
    if(MPI_CXX_FOUND)
      add_library(pnn::mpi INTERFACE IMPORTED GLOBAL)
      set_target_properties(pnn::mpi PROPERTIES INTERFACE_LINK_LIBRARIES "pnn::pnn;MPI::MPI_CXX")
      set(pnn_mpi_FOUND TRUE)
    else()
      set(pnn_mpi_NOT_FOUND_MESSAGE "pnn::mpi needs MPI for C++ (Debian: libopenmpi-dev), and CMake found none")
    endif()
  elseif("${name}" STREQUAL "cuda" OR "${name}" STREQUAL "nccl")
    find_package(CUDAToolkit QUIET)
    if(NOT CUDAToolkit_FOUND)
      set(pnn_${name}_NOT_FOUND_MESSAGE "pnn::${name} needs the CUDA toolkit (cuBLAS; nvcc to compile), and CMake found "
                                        "none (set CUDAToolkit_ROOT, e.g. /usr/local/cuda)")
    else()
      if(NOT TARGET pnn::cuda)
        add_library(pnn::cuda INTERFACE IMPORTED GLOBAL)
        # C++20 under nvcc by hand: CMake 3.25 does not know nvcc 13's CUDA20 dialect.
        set_target_properties(pnn::cuda PROPERTIES
          INTERFACE_LINK_LIBRARIES "pnn::pnn;CUDA::cublas;CUDA::cudart"
          INTERFACE_COMPILE_OPTIONS "$<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>")
      endif()
      set(pnn_cuda_FOUND TRUE)
      if("${name}" STREQUAL "nccl")
        find_library(PNN_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib)
        find_path(PNN_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
        if(PNN_NCCL_LIBRARY AND PNN_NCCL_INCLUDE)
          add_library(pnn::nccl INTERFACE IMPORTED GLOBAL)
          set_target_properties(pnn::nccl PROPERTIES
            INTERFACE_LINK_LIBRARIES "pnn::cuda;${PNN_NCCL_LIBRARY}"
            INTERFACE_INCLUDE_DIRECTORIES "${PNN_NCCL_INCLUDE}"
            INTERFACE_COMPILE_DEFINITIONS "PNN_WITH_NCCL=1")
          set(pnn_nccl_FOUND TRUE)
        else()
          set(pnn_nccl_NOT_FOUND_MESSAGE "pnn::nccl needs NCCL (libnccl.so and nccl.h, as CUDA 13's toolkit has), "
                                         "and CMake found none beside the CUDA toolkit (${CUDAToolkit_LIBRARY_DIR})")
        endif()
      endif()
    endif()
  else()
    set(pnn_${name}_NOT_FOUND_MESSAGE "pnn has no component '${name}': its components are ${PNN_COMPONENTS}")
  endif()
endmacro()
