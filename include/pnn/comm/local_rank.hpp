// defines: pnn::local_rank, this process's number among the job's processes on its host, as the
// launcher that started it counts them: what a rank uses to choose its GPU (one rank per GPU).
//
// Each launcher says it in a variable of its own, and the variables of an outer launcher are
// inherited: under mpirun inside a Slurm allocation, Open MPI's daemons are Slurm's tasks (one a
// host, SLURM_LOCALID 0 on every host) and every rank inherits their SLURM_LOCALID, so taking it
// would put every rank of a host on GPU 0. The launcher closest to the process is the MPI
// library's own, so its variable decides; Slurm's counts where srun started the ranks itself
// (srun --mpi=pmix), where the MPI library's launcher set none.
#pragma once
#include <cstdlib>
#include <optional>
#include <string>

#include "pnn/error.hpp"

namespace pnn {

// The variables, in the order that decides: Open MPI's mpirun, MPICH's and Intel MPI's Hydra,
// MVAPICH's mpirun_rsh, then Slurm's srun.
inline constexpr const char* local_rank_variables[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                                       "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"};

// The local rank from the first of local_rank_variables that `lookup(name)` (a getenv) finds;
// none when no launcher set one (a process started by hand). A value that is not a whole number
// is an error naming the variable.
template <class Lookup>
std::optional<int> local_rank_from(Lookup&& lookup) {
    for (const char* name : local_rank_variables) {
        const char* value = lookup(name);
        if (value == nullptr) continue;
        const std::string text = value;
        const bool digits = !text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits) throw error(std::string(name) + ": expected a local rank (a whole number >= 0), found '" + text + "'");
        return std::stoi(text);
    }
    return std::nullopt;
}

// The local rank of this process, from its environment.
inline std::optional<int> local_rank() {
    return local_rank_from([](const char* name) { return std::getenv(name); });
}

}  // namespace pnn
