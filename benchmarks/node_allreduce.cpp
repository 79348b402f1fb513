// The gradient's sum over the ranks of one node, done five ways, for issue 12's 2-rank target:
// MPI_Allreduce (what pnn::Mpi calls); MPI_Reduce_scatter_block + MPI_Allgather; a pairwise
// exchange of halves; and three ways through an MPI-3 shared window (each rank's slot, two
// slots a rank so that a step never needs a second barrier): copy in and sum every slot, sum
// every slot alone, and copy in + sum this rank's part in place + gather the parts. Also one
// MPI_Barrier. Median (and min) of 7 rounds of 200 calls, ms, printed by rank 0.
//
//   mpirun -np 2 --bind-to core benchmarks/node_allreduce [VALUES]   (default 235148 floats:
//   the 784-256-128-10 net's gradient, 0.94 MB)
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size; MPI_Comm_rank(MPI_COMM_WORLD, &rank); MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int n = (argc > 1 ? std::atoi(argv[1]) : 235148) / (2 * size) * (2 * size);  // whole parts
  std::vector<float> g(std::size_t(n), 1.0f + float(rank)), h(std::size_t(n / size));
  auto time = [&](const char* name, auto f) {
    std::vector<double> t;
    for (int round = 0; round < 7; ++round) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      for (int i = 0; i < 200; ++i) f();
      t.push_back((MPI_Wtime() - t0) / 200 * 1e3);
    }
    std::sort(t.begin(), t.end());
    if (rank == 0) std::printf("%-28s %.4f ms (min %.4f)\n", name, t[3], t[0]);
  };
  time("MPI_Allreduce", [&] { MPI_Allreduce(MPI_IN_PLACE, g.data(), n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); });
  time("Reduce_scatter+Allgather", [&] {
    MPI_Reduce_scatter_block(g.data(), h.data(), n / size, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allgather(h.data(), n / size, MPI_FLOAT, g.data(), n / size, MPI_FLOAT, MPI_COMM_WORLD);
  });
  if (size == 2) time("sendrecv halves", [&] {
    int peer = 1 - rank, half = n / 2;
    float* mine = g.data() + rank * half; float* theirs = g.data() + peer * half;
    MPI_Sendrecv(theirs, half, MPI_FLOAT, peer, 0, h.data(), half, MPI_FLOAT, peer, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    for (int i = 0; i < half; ++i) mine[i] += h[i];
    MPI_Sendrecv(mine, half, MPI_FLOAT, peer, 1, theirs, half, MPI_FLOAT, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  });
  // shared window: each writes its slot, barrier, everyone sums all slots
  MPI_Comm node; MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  float* base; MPI_Win win;
  MPI_Win_allocate_shared(MPI_Aint(n) * 4 * 2, 4, MPI_INFO_NULL, node, &base, &win);
  std::vector<float*> slot(std::size_t(size) * 2);
  for (int r = 0; r < size; ++r) { MPI_Aint sz; int du; float* p; MPI_Win_shared_query(win, r, &sz, &du, &p); slot[2*r] = p; slot[2*r+1] = p + n; }
  MPI_Win_lock_all(MPI_MODE_NOCHECK, win);
  int parity = 0;
  time("shared window copy+sum", [&] {
    std::copy(g.begin(), g.end(), slot[2*rank + parity]);
    MPI_Win_sync(win); MPI_Barrier(node); MPI_Win_sync(win);
    std::copy(slot[parity], slot[parity] + n, g.data());
    for (int r = 1; r < size; ++r) { const float* s = slot[2*r + parity]; for (int i = 0; i < n; ++i) g[i] += s[i]; }
    parity ^= 1;
  });
  time("shared window sum only", [&] {
    MPI_Win_sync(win); MPI_Barrier(node); MPI_Win_sync(win);
    std::copy(slot[parity], slot[parity] + n, g.data());
    for (int r = 1; r < size; ++r) { const float* s = slot[2*r + parity]; for (int i = 0; i < n; ++i) g[i] += s[i]; }
    parity ^= 1;
  });
  // reduce-scatter in place: copy in, barrier, sum my part into my slot, barrier, gather parts
  time("shared window RS+AG", [&] {
    std::copy(g.begin(), g.end(), slot[2*rank + parity]);
    MPI_Win_sync(win); MPI_Barrier(node); MPI_Win_sync(win);
    int part = n / size, lo = rank * part, hi = rank == size - 1 ? n : lo + part;
    float* mine = slot[2*rank + parity];
    for (int r = 0; r < size; ++r) if (r != rank) { const float* s = slot[2*r + parity]; for (int i = lo; i < hi; ++i) mine[i] += s[i]; }
    MPI_Win_sync(win); MPI_Barrier(node); MPI_Win_sync(win);
    for (int r = 0; r < size; ++r) { int a = r * part, b = r == size - 1 ? n : a + part; std::copy(slot[2*r+parity] + a, slot[2*r+parity] + b, g.data() + a); }
    parity ^= 1;
  });
  time("barrier", [&] { MPI_Barrier(node); });
  MPI_Win_unlock_all(win);
  MPI_Win_free(&win);
  MPI_Finalize();
}
