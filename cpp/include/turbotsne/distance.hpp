// The one squared-Euclidean kernel of the neighbour searches.
#pragma once

#include <limits>

#include "turbotsne/common.hpp"

namespace turbotsne {

// Squared Euclidean distance with four accumulators (instruction-level parallelism without
// -ffast-math). Gives up early, returning a value > bound, once the partial sum exceeds
// bound: partial sums only grow, so the full sum would too. The summation order is fixed, so
// the same pair always gets the same bits.
inline double squared_distance(const double* a, const double* b, index_t d,
                               double bound = std::numeric_limits<double>::infinity()) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  index_t j = 0;
  for (; j + 4 <= d; j += 4) {
    const double t0 = a[j] - b[j], t1 = a[j + 1] - b[j + 1];
    const double t2 = a[j + 2] - b[j + 2], t3 = a[j + 3] - b[j + 3];
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
    if ((j + 4) % 16 == 0) {  // every 16 coordinates: can we stop?
      const double partial = (s0 + s1) + (s2 + s3);
      if (partial > bound) return partial;
    }
  }
  for (; j < d; ++j) {
    const double t = a[j] - b[j];
    s0 += t * t;
  }
  return (s0 + s1) + (s2 + s3);
}

}  // namespace turbotsne
