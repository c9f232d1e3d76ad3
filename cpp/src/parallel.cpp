#include "turbotsne/parallel.hpp"

#include <omp.h>

namespace turbotsne {

int resolve_threads(int n_jobs) {
  const int procs = omp_get_num_procs();
  if (n_jobs > 0) return n_jobs;
  if (n_jobs == 0) return 1;
  return std::max(1, procs + 1 + n_jobs);
}

}  // namespace turbotsne
