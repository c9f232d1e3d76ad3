// The bounded max-heap of the exact neighbour searches: the k best candidates of one query by
// (key, index), ties broken by the smaller index, so that a result never depends on the order
// in which candidates were offered (and hence not on the thread count).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace turbotsne {

// Max-heap of the k best candidates by (key, index) over caller-owned arrays of k entries:
// the root is the worst kept. `size` > 0 resumes a heap an earlier Candidates left there.
class Candidates {
 public:
  Candidates(int k, std::int32_t* idx, double* dist, int size = 0)
      : k_(k), size_(size), idx_(idx), dist_(dist) {}

  // The key a new candidate must not exceed to be kept: +inf until k are held.
  double bound() const {
    return size_ < k_ ? std::numeric_limits<double>::infinity() : dist_[0];
  }
  void offer(double d, std::int32_t i) {
    if (size_ < k_) {
      int c = size_++;
      while (c > 0) {  // sift up
        const int p = (c - 1) / 2;
        if (!worse(d, i, dist_[p], idx_[p])) break;
        dist_[c] = dist_[p];
        idx_[c] = idx_[p];
        c = p;
      }
      dist_[c] = d;
      idx_[c] = i;
    } else if (worse(dist_[0], idx_[0], d, i)) {
      int c = 0;
      for (;;) {  // sift down from the root
        int w = 2 * c + 1;
        if (w >= k_) break;
        if (w + 1 < k_ && worse(dist_[w + 1], idx_[w + 1], dist_[w], idx_[w])) ++w;
        if (!worse(dist_[w], idx_[w], d, i)) break;
        dist_[c] = dist_[w];
        idx_[c] = idx_[w];
        c = w;
      }
      dist_[c] = d;
      idx_[c] = i;
    }
  }
  // Sorts the kept candidates ascending by (key, index) and turns keys into distances.
  template <class Keys>
  void finish() {
    std::vector<std::pair<double, std::int32_t>> all(size_);
    for (int c = 0; c < size_; ++c) all[c] = {dist_[c], idx_[c]};
    std::sort(all.begin(), all.end());
    for (int c = 0; c < size_; ++c) {
      dist_[c] = Keys::to_distance(all[c].first);
      idx_[c] = all[c].second;
    }
  }
  int size() const { return size_; }

 private:
  static bool worse(double da, std::int32_t ia, double db, std::int32_t ib) {
    return da > db || (da == db && ia > ib);
  }
  int k_;
  int size_;
  std::int32_t* idx_;
  double* dist_;
};

}  // namespace turbotsne
