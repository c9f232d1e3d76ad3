#include "turbotsne/progress.hpp"

namespace turbotsne {

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
