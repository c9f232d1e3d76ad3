#include "turbotsne/tsne.hpp"

#ifndef TURBOTSNE_VERSION
#error "TURBOTSNE_VERSION must be defined by the build (it comes from pyproject.toml)"
#endif

namespace turbotsne {

const char* version() { return TURBOTSNE_VERSION; }

}  // namespace turbotsne
