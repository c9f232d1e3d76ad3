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
#include <cstdlib>
#include <iterator>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace turbotsne {

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

}  // namespace turbotsne
