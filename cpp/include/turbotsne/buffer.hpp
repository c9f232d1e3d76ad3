// Buffer<T>: a contiguous array of trivially copyable values in malloc'd storage, with the
// parts of std::vector's interface the core uses, for the large arrays that change size or
// type in place: the kNN graph and the affinity matrix. It adds what std::vector cannot do
// without a copy of the whole array:
//  - resize_uninitialized grows or shrinks with realloc. For arrays of more than a few MB glibc
//    serves realloc by remapping pages (mremap), so growing the graph's arrays into P's costs no
//    transient copy, and the new pages count in the resident set only once they are written.
//  - reinterpret<U>() hands the storage over as a Buffer<U> (the graph's double distances
//    become P's float values in the same bytes, see conditional_probabilities).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace turbotsne {

// Arrays of at least this many bytes ask for transparent huge pages (see advise_huge_pages).
constexpr std::size_t kHugePageMinBytes = std::size_t{4} << 20;

// Asks the system to back the whole 2 MB pages inside [p, p + bytes) with transparent huge
// pages, before they are first written; changes no result. Where the setting is "madvise"
// (the default of Debian and Ubuntu, among others) memory gets huge pages only on request,
// and random reads over arrays far larger than the TLB's reach (4 KB pages: 8 MB on this
// machine's second-level TLB) miss it on nearly every access: the neighbour searches' rows
// and lists (13% of the approximate search at 300,000 and 1,000,000 points, measured with
// glibc's tunable that asks for every large allocation). Linux only; a refusal (THP "never",
// no free huge pages) leaves 4 KB pages, and nothing happens for arrays below
// kHugePageMinBytes.
inline void advise_huge_pages(void* p, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  if (p == nullptr || bytes < kHugePageMinBytes) return;
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (start + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (start + bytes) & ~(kHuge - 1);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

// Buffer does not ask by itself: the graph's and P's buffers grow and shrink by realloc, and
// with huge pages requested on them MNIST's call peaked 40 MB higher (421 against 382 MB)
// for no measured gain (they are read in order). Callers ask for a buffer that is read at
// random (fill_advised, below).

// A std::vector allocator whose large arrays ask for transparent huge pages before their
// first write (std::vector writes every value at once, so advice afterwards would come too
// late): LargeVector<T> for the arrays that are read at random.
template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    void* p = std::malloc(n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    advise_huge_pages(p, n * sizeof(T));
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const HugePageAllocator<U>&) const noexcept { return false; }
};
template <class T>
using LargeVector = std::vector<T, HugePageAllocator<T>>;

// Hands the heap's free pages back to the system: glibc keeps what many small allocations
// freed (the neighbour searches' per-point lists) resident otherwise, under every later stage.
inline void release_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

template <class T>
class Buffer {
  static_assert(std::is_trivially_copyable_v<T>, "Buffer holds trivially copyable values");

 public:
  using value_type = T;

  Buffer() = default;
  explicit Buffer(std::size_t n) { resize(n); }
  Buffer(std::size_t n, const T& value) { assign(n, value); }
  Buffer(const Buffer& other) { assign(other.begin(), other.end()); }
  Buffer(Buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Buffer& operator=(Buffer other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~Buffer() { std::free(data_); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  // New size; values beyond the old size are left unset (and their pages untouched).
  void resize_uninitialized(std::size_t n) {
    if (n == size_) return;
    if (n == 0) {
      std::free(data_);
      data_ = nullptr;
      size_ = 0;
      return;
    }
    void* grown = std::realloc(data_, n * sizeof(T));
    if (grown == nullptr) throw std::bad_alloc();
    data_ = static_cast<T*>(grown);
    size_ = n;
  }
  // Like std::vector::resize: values beyond the old size are T{}.
  void resize(std::size_t n) {
    const std::size_t old = size_;
    resize_uninitialized(n);
    if (n > old) std::fill(data_ + old, data_ + n, T{});
  }
  void assign(std::size_t n, const T& value) {
    resize_uninitialized(n);
    std::fill(data_, data_ + n, value);
  }
  template <class It>
  void assign(It first, It last) {
    resize_uninitialized(static_cast<std::size_t>(std::distance(first, last)));
    std::copy(first, last, data_);
  }
  void clear() { resize_uninitialized(0); }

  // The same storage as floor(size() · sizeof(T) / sizeof(U)) values of type U, whatever
  // bytes it holds; this buffer is left empty.
  template <class U>
  Buffer<U> reinterpret() && {
    Buffer<U> out;
    out.data_ = reinterpret_cast<U*>(std::exchange(data_, nullptr));
    out.size_ = std::exchange(size_, 0) * sizeof(T) / sizeof(U);
    return out;
  }

 private:
  template <class U>
  friend class Buffer;
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// buffer = n copies of value, its pages asked to be huge ones before they are written.
template <class T>
void fill_advised(Buffer<T>& buffer, std::size_t n, const T& value) {
  buffer.resize_uninitialized(n);
  advise_huge_pages(buffer.data(), n * sizeof(T));
  std::fill(buffer.begin(), buffer.end(), value);
}

}  // namespace turbotsne
