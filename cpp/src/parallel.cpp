#include "turbotsne/parallel.hpp"

#include <omp.h>

namespace turbotsne {

int resolve_threads(int n_jobs) {
  const int procs = omp_get_num_procs();
  if (n_jobs > 0) return n_jobs;
  if (n_jobs == 0) return 1;
  return std::max(1, procs + 1 + n_jobs);
}

int openmp_version() { return _OPENMP; }

int parallel_team_size(int n_threads) {
  int size = 0;
#pragma omp parallel num_threads(std::max(n_threads, 1))
  {
#pragma omp single
    size = omp_get_num_threads();
  }
  return size;
}

}  // namespace turbotsne
