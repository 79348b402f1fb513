// defines: pnn::Nccl, the Mpi communicator whose gradient reduction (and the seed strategy's
// weight broadcast) runs through NCCL, GPU to GPU on the device's stream, instead of through
// host memory. Only under nvcc with <nccl.h>; link with -lnccl. (pnn.hpp does not include it:
// a program that does includes it and links NCCL.)
//
// NCCL is bootstrapped over MPI: rank 0 makes the unique id, MPI_Bcast sends it, every rank
// joins with ncclCommInitRank. Everything else (the data's distribution, sample counts, the
// cost, the start-up checks) stays on MPI. One GPU per rank: NCCL refuses two ranks of one
// communicator on the same GPU, and that refusal becomes a pnn::error.
//
//   pnn::Cuda gpu(local_rank);
//   pnn::Trainer<pnn::Mlp<float>, pnn::Cuda, pnn::Nccl> t(net, pnn::Nccl(gpu), gpu);
#pragma once
#if defined(__CUDACC__) && __has_include(<nccl.h>)
#include <nccl.h>

#include <memory>
#include <string>
#include <type_traits>

#include "pnn/comm/mpi.hpp"
#include "pnn/device/cuda.hpp"

namespace pnn {

namespace detail {
inline void nccl_check(ncclResult_t status, const char* call, ncclComm_t comm = nullptr) {
    if (status == ncclSuccess) return;
    const char* last = comm ? ncclGetLastError(comm) : ncclGetLastError(nullptr);
    fail(call, " failed: ", ncclGetErrorString(status), last && *last ? std::string(" (") + last + ")" : std::string());
}

template <class T>
ncclDataType_t nccl_type() {
    if constexpr (std::is_same_v<T, float>) return ncclFloat32;
    else if constexpr (std::is_same_v<T, double>) return ncclFloat64;
    else static_assert(!sizeof(T), "no NCCL type for this element type");
}
}  // namespace detail

class Nccl : public Mpi {
public:
    // gpu: the device the Trainer trains on (its GPU and stream); comm and options as for Mpi.
    // Collective over comm.
    explicit Nccl(const Cuda& gpu, MPI_Comm comm = MPI_COMM_WORLD, Options options = {})
        : Mpi(comm, options), stream_(gpu.stream()) {
        detail::cuda_check(cudaSetDevice(gpu.device()), "cudaSetDevice");
        ncclUniqueId id{};
        if (rank() == 0) detail::nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
        detail::mpi_check(MPI_Bcast(&id, int(sizeof id), MPI_BYTE, 0, communicator()), "MPI_Bcast (NCCL unique id)");
        ncclComm_t c = nullptr;
        {
            Watchdog::Watch watch(watchdog(), "NCCL's start-up (ncclCommInitRank)");
            detail::nccl_check(ncclCommInitRank(&c, size(), id, rank()), "ncclCommInitRank");
        }
        nccl_ = std::shared_ptr<ncclComm>(c, [](ncclComm_t p) { ncclCommDestroy(p); });
        overlap_ = std::make_shared<OverlapStream>();
    }

    // The gradient is summed where it lies, in GPU memory.
    bool reads_device_memory() const { return true; }

    // The gradient's sum by ncclAllReduce (ncclReduce to rank 0 for the seed strategy), queued
    // on the device's stream: the kernels that use it next are queued behind it, so nothing
    // waits here. The cost, a host value, is summed by MPI.
    template <class T>
    void reduce_gradient(T* p, std::size_t n, double& cost, bool everywhere, bool host_memory = true) const {
        if (host_memory) return Mpi::reduce_gradient(p, n, cost, everywhere, host_memory);
        if (everywhere || !seed_strategy())
            detail::nccl_check(ncclAllReduce(p, p, n, detail::nccl_type<T>(), ncclSum, nccl_.get(), stream_), "ncclAllReduce",
                               nccl_.get());
        else
            detail::nccl_check(ncclReduce(p, p, n, detail::nccl_type<T>(), ncclSum, 0, nccl_.get(), stream_), "ncclReduce",
                               nccl_.get());
        sum(&cost, 1);
    }

    // The seed strategy's broadcast of rank 0's updated weights, GPU to GPU.
    template <class T>
    void share_weights(T* p, std::size_t n) const {
        if (seed_strategy())
            detail::nccl_check(ncclBroadcast(p, p, n, detail::nccl_type<T>(), 0, nccl_.get(), stream_), "ncclBroadcast",
                               nccl_.get());
    }

    // ---- The overlapped sum (pnn/comm/comm.hpp, OverlappingComm and StreamOverlappingComm):
    // each bucket's ncclAllReduce goes out on a stream of its own, behind an event recorded on
    // the device's stream when backprop has queued the kernels that finish the bucket, so the
    // reduction of one bucket runs on the GPU while backprop computes the next; the update is
    // queued behind an event recorded after the last sum. Nothing here waits on the host, and
    // NCCL moves its collectives without being polled. overlaps() and bucket_bytes() are
    // Mpi's (MpiOptions::overlap and bucket_bytes).
    static constexpr bool sums_on_device_stream = true;

    // Queues the in-place sum of p[0, n) (GPU memory) over ranks behind the kernels queued so
    // far on the device's stream; p must not be touched until end_sums().
    template <class T>
    void begin_sum(T* p, std::size_t n) const {
        OverlapStream& o = *overlap_;
        detail::cuda_check(cudaEventRecord(o.bucket_final, stream_), "cudaEventRecord (a bucket is final)");
        detail::cuda_check(cudaStreamWaitEvent(o.stream, o.bucket_final, 0), "cudaStreamWaitEvent (the reduction stream)");
        detail::nccl_check(ncclAllReduce(p, p, n, detail::nccl_type<T>(), ncclSum, nccl_.get(), o.stream),
                           "ncclAllReduce (a bucket)", nccl_.get());
        o.started = true;
    }
    void progress() const {}
    void forget_sums() const {}  // (NCCL keeps nothing per buffer)
    // Whether every queued sum has run (for stage timing's overlapped figure).
    bool sums_done() const {
        OverlapStream& o = *overlap_;
        if (!o.started) return true;
        detail::cuda_check(cudaEventRecord(o.sums_done, o.stream), "cudaEventRecord (the sums are done)");
        const cudaError_t status = cudaEventQuery(o.sums_done);
        if (status == cudaErrorNotReady) return false;
        detail::cuda_check(status, "cudaEventQuery (the sums are done)");
        return true;
    }
    // Queues everything the device's stream runs next behind every queued sum.
    void end_sums() const {
        OverlapStream& o = *overlap_;
        if (!o.started) return;
        detail::cuda_check(cudaEventRecord(o.sums_done, o.stream), "cudaEventRecord (the sums are done)");
        detail::cuda_check(cudaStreamWaitEvent(stream_, o.sums_done, 0), "cudaStreamWaitEvent (the update)");
        o.started = false;
    }

private:
    // The reduction's stream and its two events (timing off: they only order work), made once,
    // shared by copies of this communicator.
    struct OverlapStream {
        cudaStream_t stream = nullptr;
        cudaEvent_t bucket_final = nullptr, sums_done = nullptr;
        bool started = false;
        OverlapStream() {
            detail::cuda_check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
            detail::cuda_check(cudaEventCreateWithFlags(&bucket_final, cudaEventDisableTiming), "cudaEventCreateWithFlags");
            detail::cuda_check(cudaEventCreateWithFlags(&sums_done, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        }
        ~OverlapStream() {
            cudaEventDestroy(sums_done);
            cudaEventDestroy(bucket_final);
            cudaStreamDestroy(stream);
        }
        OverlapStream(const OverlapStream&) = delete;
        OverlapStream& operator=(const OverlapStream&) = delete;
    };

    cudaStream_t stream_;
    std::shared_ptr<ncclComm> nccl_;  // shared by copies; the last one destroys it
    std::shared_ptr<OverlapStream> overlap_;
};

static_assert(Comm<Nccl> && OverlappingComm<Nccl, float> && OverlappingComm<Nccl, double> &&
              StreamOverlappingComm<Nccl>);

}  // namespace pnn
#endif
