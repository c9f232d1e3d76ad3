// The Python module turbotsne._core, the only code that knows about Python (with the other
// files of python/src): numpy arrays become views over the same memory, the GIL is released
// for all work of the core, progress and Ctrl-C come back through an Observer that takes the
// GIL only between iterations, and C++ exceptions map to Python ones (std::invalid_argument →
// ValueError, std::bad_alloc → MemoryError, others → RuntimeError).
//
// bindings.hpp holds what the binding files share, api.cpp registers the functions the
// turbotsne package calls, testing.cpp the probes of the tests (in _core._testing).
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "turbotsne/tsne.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "turbotsne's C++ core (private: use the functions of the turbotsne package)";
  m.attr("__version__") = turbotsne::version();
  turbotsne::bindings::register_api(m);
  pybind11::module_ testing = m.def_submodule(
      "_testing", "Probes of the core's parts for the tests and bench/ (no stable API)");
  turbotsne::bindings::register_testing(testing);
}
