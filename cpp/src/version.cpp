#include "turbotsne/tsne.hpp"

#ifndef TURBOTSNE_VERSION
#error "TURBOTSNE_VERSION must be defined by the build (it comes from pyproject.toml)"
#endif

namespace turbotsne {

const char* version() { return TURBOTSNE_VERSION; }

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kNeighbors: return "neighbors";
    case Stage::kAffinities: return "affinities";
    case Stage::kInit: return "init";
    case Stage::kOptimize: return "optimize";
  }
  return "?";
}

}  // namespace turbotsne
