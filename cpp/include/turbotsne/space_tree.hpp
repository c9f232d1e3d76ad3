// The 2^D-tree (binary for D = 1, quadtree, octree) over an embedding that Barnes-Hut sums
// over (repulsion_barnes_hut.hpp). Header-only: the tree is a template in D.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "turbotsne/common.hpp"

namespace turbotsne {

constexpr int kSpaceTreeMaxDepth = 40;      // cells 2^-40 of the root's side hold near-duplicates
constexpr int kSpaceTreeLeafCapacity = 16;  // points kept in a leaf before it is split

// A 2^D-tree over the embedding, rebuilt every iteration into reused storage. Cells are cubes
// (the root is the bounding box made cubic); children of a cell are stored contiguously and
// only non-empty ones are kept.
template <int D>
class SpaceTree {
 public:
  struct Node {
    std::array<double, D> com;     // centre of mass
    std::array<double, D> center;  // centre of the cell
    double half = 0.0;             // half of the side
    std::int32_t count = 0;
    std::int32_t first_child = -1;  // -1 for a leaf
    std::int32_t n_children = 0;
    std::int32_t begin = 0;  // points order_[begin, end)
    std::int32_t end = 0;
  };

  void build(ConstMatrix Y) {
    Y_ = Y;
    const auto n = static_cast<std::int32_t>(Y.rows);
    order_.resize(n);
    scratch_.resize(n);
    for (std::int32_t i = 0; i < n; ++i) order_[i] = i;
    nodes_.clear();
    Node root;
    std::array<double, D> lo, hi;
    lo.fill(INFINITY);
    hi.fill(-INFINITY);
    for (std::int32_t i = 0; i < n; ++i) {
      for (int c = 0; c < D; ++c) {
        lo[c] = std::min(lo[c], Y(i, c));
        hi[c] = std::max(hi[c], Y(i, c));
      }
    }
    double half = 0.0;
    for (int c = 0; c < D; ++c) {
      root.center[c] = 0.5 * (lo[c] + hi[c]);
      half = std::max(half, 0.5 * (hi[c] - lo[c]));
    }
    root.half = half * (1.0 + 1e-9) + 1e-300;  // every point strictly inside
    root.begin = 0;
    root.end = n;
    nodes_.push_back(root);
    split(0, 0);
  }

  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<std::int32_t>& order() const { return order_; }

 private:
  // Partitions node `id` into its orthants and recurses; fills count and centre of mass.
  void split(std::int32_t id, int depth) {
    Node node = nodes_[id];
    node.count = node.end - node.begin;
    if (node.count <= kSpaceTreeLeafCapacity || depth >= kSpaceTreeMaxDepth) {
      node.com.fill(0.0);
      for (std::int32_t p = node.begin; p < node.end; ++p) {
        for (int c = 0; c < D; ++c) node.com[c] += Y_(order_[p], c);
      }
      for (int c = 0; c < D; ++c) node.com[c] /= node.count;
      nodes_[id] = node;
      return;
    }
    // Counting sort of the range by orthant (bit c set when the point is right of centre).
    constexpr int kOrthants = 1 << D;
    std::array<std::int32_t, kOrthants + 1> start{};
    auto orthant = [&](std::int32_t i) {
      int o = 0;
      for (int c = 0; c < D; ++c) o |= (Y_(i, c) >= node.center[c]) << c;
      return o;
    };
    for (std::int32_t p = node.begin; p < node.end; ++p) ++start[orthant(order_[p]) + 1];
    for (int o = 0; o < kOrthants; ++o) start[o + 1] += start[o];
    std::array<std::int32_t, kOrthants> fill;
    for (int o = 0; o < kOrthants; ++o) fill[o] = node.begin + start[o];
    for (std::int32_t p = node.begin; p < node.end; ++p) {
      const std::int32_t i = order_[p];
      scratch_[fill[orthant(i)]++] = i;
    }
    std::copy(scratch_.begin() + node.begin, scratch_.begin() + node.end,
              order_.begin() + node.begin);
    node.first_child = static_cast<std::int32_t>(nodes_.size());
    node.n_children = 0;
    for (int o = 0; o < kOrthants; ++o) {
      if (start[o + 1] == start[o]) continue;
      Node child;
      child.half = 0.5 * node.half;
      for (int c = 0; c < D; ++c) {
        child.center[c] = node.center[c] + ((o >> c) & 1 ? child.half : -child.half);
      }
      child.begin = node.begin + start[o];
      child.end = node.begin + start[o + 1];
      nodes_.push_back(child);
      ++node.n_children;
    }
    node.com.fill(0.0);
    for (std::int32_t ch = node.first_child; ch < node.first_child + node.n_children; ++ch) {
      split(ch, depth + 1);
      const Node& child = nodes_[ch];
      for (int c = 0; c < D; ++c) node.com[c] += child.count * child.com[c];
    }
    for (int c = 0; c < D; ++c) node.com[c] /= node.count;
    nodes_[id] = node;
  }

  ConstMatrix Y_;
  std::vector<Node> nodes_;
  std::vector<std::int32_t> order_;
  std::vector<std::int32_t> scratch_;
};

}  // namespace turbotsne
