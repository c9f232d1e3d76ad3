// Cache hints for loops that read (or write) memory the hardware cannot predict: they ask
// for lines ahead of their use and change no result. No-ops where the compiler has no
// prefetch builtin.
#pragma once

#include <cstddef>

namespace turbotsne {

// The line holding p (the hardware fetches the lines after it); `write`: for writing.
inline void prefetch_line(const void* p, bool write = false) {
#if defined(__GNUC__)
  if (write) {
    __builtin_prefetch(p, 1);
  } else {
    __builtin_prefetch(p, 0);
  }
#else
  (void)p;
  (void)write;
#endif
}

// Every line of the bytes [p, p + bytes), for reading.
inline void prefetch_range(const void* p, std::size_t bytes) {
  if (bytes == 0) return;
  const char* c = static_cast<const char*>(p);
  for (std::size_t offset = 0; offset < bytes; offset += 64) prefetch_line(c + offset);
  prefetch_line(c + bytes - 1);
}

}  // namespace turbotsne
