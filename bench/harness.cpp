// turbotsne_bench: times the stages of the C++ core (neighbours, affinities, PCA init, one
// gradient evaluation per method) and whole runs, and prints a markdown table.
//
//   turbotsne_bench --input X.npy [--threads 1,2] [--methods exact,bh] [--repeats 3] ...
//   turbotsne_bench --blobs 2000 50 ...
//
// Exit status: 0 on success, 2 on a bad argument or an unsupported input file, 1 when the
// core throws during the measurements. See bench/README.md.

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "turbotsne/affinities.hpp"
#include "turbotsne/common.hpp"
#include "turbotsne/contrastive.hpp"
#include "turbotsne/gradient.hpp"
#include "turbotsne/knn.hpp"
#include "turbotsne/random.hpp"
#include "turbotsne/repulsion_fft.hpp"
#include "turbotsne/repulsion_methods.hpp"
#include "turbotsne/sne.hpp"
#include "turbotsne/tsne.hpp"

using turbotsne::index_t;

// A bad command line or an input the harness does not read: exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The exact method is O(n²) per gradient; above this it is skipped with a note.
static constexpr index_t kExactMaxSamples = 20000;
// Std per column of the stand-in embedding for the gradient when there is no whole run.
static constexpr double kStandInStd = 10.0;
static constexpr int kBlobCentres = 10;
static constexpr double kBlobCentreSpread = 4.0;  // as turbotsne.make_blobs

static const char* const kUsage =
    "usage: turbotsne_bench (--input FILE.npy | --blobs N D) [options]\n"
    "       turbotsne_bench --layout N[,N...] [--methods fft,bh] [--threads LIST] [--repeats R]\n"
    "\n"
    "  --input FILE.npy   2-D C-order array, dtype float64, float32 or uint8\n"
    "  --blobs N D        N points in D dims around 10 Gaussian centres (seeded)\n"
    "  --threads LIST     thread counts, comma separated (default 1)\n"
    "  --perplexity P     default 30\n"
    "  --n-iter N         iterations of the whole run (default 750)\n"
    "  --methods LIST     comma separated, from exact, bh, fft (default bh)\n"
    "  --neighbors KIND   exact (VP-tree or brute force by dimension, default) or approx (RP forest + NN-descent)\n"
    "  --dims D           embedding dimension, 1 to 3 (default 2; fft: 1 or 2)\n"
    "  --layout LIST      time only the repulsion, per iteration, on generated 2-D layouts\n"
    "                     of these sizes (clustered, spread like a late-stage embedding);\n"
    "                     fft rows are split into grid / spread / FFT / interpolate\n"
    "  --repeats R        repetitions per measurement; the median is reported (default 3)\n"
    "  --seed S           seed of the blobs and of run_tsne (default 0)\n"
    "  --no-run           skip the whole run (stages only)\n"
    "  --contrastive      instead of t-SNE: contrastive embeddings (NEG at UMAP's Z, NCE,\n"
    "                     InfoNCE; --n-iter epochs) on the same data, for every --threads;\n"
    "                     fails unless the output is finite and the same for every thread count\n"
    "  --sne              instead of t-SNE: SNE, symmetric SNE and UNI-SNE (exact, --n-iter\n"
    "                     iterations) on the same data, for every --threads; fails unless the\n"
    "                     output is finite and the same for every thread count\n"
    "  -h, --help         this text\n";

// ---------------------------------------------------------------------------------------
// Command line

struct Options {
  std::string input;                  // --input
  index_t blobs_n = 0, blobs_d = 0;   // --blobs
  bool have_blobs = false;
  std::vector<int> threads{1};
  double perplexity = 30.0;
  int n_iter = 750;
  std::vector<std::string> methods{"bh"};
  int repeats = 3;
  std::uint64_t seed = 0;
  bool run = true;
  bool contrastive = false;           // --contrastive
  bool sne = false;                   // --sne
  std::vector<index_t> layout;        // --layout
  bool approximate = false;           // --neighbors approx
  int dims = 2;                       // --dims
};

static std::vector<std::string> split_commas(const std::string& text, const std::string& option) {
  std::vector<std::string> parts;
  std::string::size_type start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                           : comma - start);
    if (part.empty()) throw UsageError(option + ": empty item in list '" + text + "'");
    parts.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

static long long parse_integer(const std::string& text, const std::string& option,
                               long long min_value, long long max_value) {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0]))) {
    throw UsageError(option + ": expected an integer, got '" + text + "'");
  }
  if (errno == ERANGE || value < min_value || value > max_value) {
    throw UsageError(option + ": " + text + " is out of range [" + std::to_string(min_value) +
                     ", " + std::to_string(max_value) + "]");
  }
  return value;
}

static double parse_real(const std::string& text, const std::string& option) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0])) ||
      errno == ERANGE || !std::isfinite(value)) {
    throw UsageError(option + ": expected a finite number, got '" + text + "'");
  }
  return value;
}

static Options parse_args(int argc, char** argv) {
  Options opt;
  std::vector<std::string> seen;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (std::find(seen.begin(), seen.end(), arg) != seen.end()) {
      throw UsageError(arg + " given twice");
    }
    seen.push_back(arg);
    // The next `count` arguments, which must exist and must not look like options.
    auto values = [&](int count) {
      std::vector<std::string> out;
      for (int v = 0; v < count; ++v) {
        if (a + 1 >= argc) {
          throw UsageError(arg + " needs " + std::to_string(count) + " value" +
                           (count > 1 ? "s" : ""));
        }
        out.emplace_back(argv[++a]);
      }
      return out;
    };
    if (arg == "--input") {
      opt.input = values(1)[0];
      if (opt.input.empty()) throw UsageError("--input: empty file name");
    } else if (arg == "--blobs") {
      const auto v = values(2);
      opt.blobs_n = parse_integer(v[0], "--blobs N", 2, std::numeric_limits<std::int32_t>::max());
      opt.blobs_d = parse_integer(v[1], "--blobs D", 1, 1000000);
      opt.have_blobs = true;
    } else if (arg == "--threads") {
      opt.threads.clear();
      for (const auto& t : split_commas(values(1)[0], "--threads")) {
        const int n = static_cast<int>(parse_integer(t, "--threads", 1, 4096));
        if (std::find(opt.threads.begin(), opt.threads.end(), n) != opt.threads.end()) {
          throw UsageError("--threads: " + t + " listed twice");
        }
        opt.threads.push_back(n);
      }
    } else if (arg == "--perplexity") {
      opt.perplexity = parse_real(values(1)[0], "--perplexity");
      if (!(opt.perplexity > 0.0)) throw UsageError("--perplexity must be positive");
    } else if (arg == "--n-iter") {
      opt.n_iter = static_cast<int>(parse_integer(values(1)[0], "--n-iter", 1, 10000000));
    } else if (arg == "--methods") {
      opt.methods.clear();
      for (auto m : split_commas(values(1)[0], "--methods")) {
        if (m == "barnes_hut" || m == "barnes-hut") m = "bh";
        if (m != "exact" && m != "bh" && m != "fft") {
          throw UsageError("--methods: unknown method '" + m + "' (choose from exact, bh, fft)");
        }
        if (std::find(opt.methods.begin(), opt.methods.end(), m) != opt.methods.end()) {
          throw UsageError("--methods: " + m + " listed twice");
        }
        opt.methods.push_back(m);
      }
    } else if (arg == "--repeats") {
      opt.repeats = static_cast<int>(parse_integer(values(1)[0], "--repeats", 1, 1000));
    } else if (arg == "--seed") {
      opt.seed = static_cast<std::uint64_t>(
          parse_integer(values(1)[0], "--seed", 0, std::numeric_limits<long long>::max()));
    } else if (arg == "--no-run") {
      opt.run = false;
    } else if (arg == "--contrastive") {
      opt.contrastive = true;
    } else if (arg == "--sne") {
      opt.sne = true;
    } else if (arg == "--neighbors") {
      const std::string kind = values(1)[0];
      if (kind != "exact" && kind != "approx") throw UsageError("--neighbors: exact or approx, got '" + kind + "'");
      opt.approximate = kind == "approx";
    } else if (arg == "--dims") {
      opt.dims = static_cast<int>(parse_integer(values(1)[0], "--dims", 1, 3));
    } else if (arg == "--layout") {
      for (const auto& t : split_commas(values(1)[0], "--layout")) {
        opt.layout.push_back(parse_integer(t, "--layout", 2, std::numeric_limits<std::int32_t>::max()));
      }
    } else {
      throw UsageError("unknown argument '" + arg + "'");
    }
  }
  if (!opt.layout.empty()) {
    if (!opt.input.empty() || opt.have_blobs) throw UsageError("--layout takes no --input or --blobs");
  } else if (opt.input.empty() == !opt.have_blobs) {
    throw UsageError("give exactly one of --input FILE.npy and --blobs N D");
  }
  return opt;
}

// ---------------------------------------------------------------------------------------
// Data: a strict .npy reader and Gaussian blobs

struct Dataset {
  std::vector<double> values;  // row-major n x d
  index_t n = 0;
  index_t d = 0;
  std::string description;
};

static bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// Parser of the header dict numpy writes, e.g.
//   {'descr': '<f8', 'fortran_order': False, 'shape': (70000, 50), }
// Only the three standard keys, string / bool / tuple-of-int values.
class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<index_t>& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    skip_space();
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (have_descr) fail("duplicate key 'descr'");
        descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) fail("duplicate key 'fortran_order'");
        fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) fail("duplicate key 'shape'");
        shape = parse_shape();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    skip_space();
    if (pos_ != s_.size()) fail("trailing characters after the dict");
    if (!have_descr || !have_order || !have_shape) {
      fail("the dict must have the keys 'descr', 'fortran_order' and 'shape'");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw UsageError(path_ + ": unsupported .npy header (" + what + " at character " +
                     std::to_string(pos_) + "): " + printable());
  }
  std::string printable() const {
    std::string out;
    for (char c : s_) out += (c == '\n') ? ' ' : c;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    ++pos_;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') fail("escapes in strings are not supported");
      out += s_[pos_++];
    }
    expect(quote);
    return out;
  }
  bool parse_bool() {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<index_t> parse_shape() {
    std::vector<index_t> dims;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++pos_;
        break;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
      index_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const index_t digit = peek() - '0';
        if (value > (std::numeric_limits<index_t>::max() - digit) / 10) fail("dimension overflows");
        value = value * 10 + digit;
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // written by Python 2
      dims.push_back(value);
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in the shape");
      }
    }
    return dims;
  }

  const std::string& s_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

// What a .npy header says, and where the data start.
struct NpyHeader {
  int major = 0;  // format version
  std::string descr;
  bool fortran_order = false;
  std::vector<index_t> shape;
  std::streamoff data_offset = 0;
};

// Reads `count` bytes of `file` (a .npy file at `path`), refusing a truncated `what`.
static std::string read_npy_bytes(std::ifstream& file, const std::string& path, std::size_t count,
                                  const char* what) {
  std::string buf(count, '\0');
  if (count > 0 && !file.read(&buf[0], static_cast<std::streamsize>(count))) {
    throw UsageError(path + ": not a .npy file (truncated " + what + ")");
  }
  return buf;
}

// The magic, the version and the header dictionary of a .npy file.
static NpyHeader read_npy_header(std::ifstream& file, const std::string& path,
                                 std::streamoff file_size) {
  auto read_bytes = [&](std::size_t count, const char* what) {
    return read_npy_bytes(file, path, count, what);
  };
  const std::string magic = read_bytes(8, "magic");
  if (magic.compare(0, 6, "\x93NUMPY") != 0) {
    throw UsageError(path + ": not a .npy file (bad magic; .npz archives are not supported, "
                            "see bench/prepare_data.py)");
  }
  const int major = static_cast<unsigned char>(magic[6]);
  const int minor = static_cast<unsigned char>(magic[7]);
  if (major < 1 || major > 3 || minor != 0) {
    throw UsageError(path + ": unsupported .npy format version " + std::to_string(major) + "." +
                     std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  const std::string len_bytes = read_bytes(major == 1 ? 2 : 4, "header length");
  std::size_t header_len = 0;
  for (std::size_t b = len_bytes.size(); b-- > 0;) {
    header_len = (header_len << 8) | static_cast<unsigned char>(len_bytes[b]);
  }
  const std::streamoff data_offset =
      static_cast<std::streamoff>(8 + len_bytes.size() + header_len);
  if (data_offset > file_size) throw UsageError(path + ": not a .npy file (truncated header)");
  const std::string header = read_bytes(header_len, "header");
  if (header.empty() || header.back() != '\n') {
    throw UsageError(path + ": unsupported .npy header (does not end with a newline)");
  }
  NpyHeader h;
  h.major = major;
  h.data_offset = data_offset;
  NpyHeaderParser(header, path).parse(h.descr, h.fortran_order, h.shape);
  return h;
}

enum class NpyType { kF64, kF32, kU8 };

// The element type of a header's descr: (type, bytes per item, name).
static std::tuple<NpyType, std::size_t, std::string> npy_type(const std::string& descr,
                                                              const std::string& path) {
  if (descr == "<f8") return {NpyType::kF64, 8, "float64"};
  if (descr == "<f4") return {NpyType::kF32, 4, "float32"};
  if (descr == "|u1" || descr == "<u1" || descr == ">u1") return {NpyType::kU8, 1, "uint8"};
  throw UsageError(path + ": unsupported dtype '" + descr +
                   "' (supported: little-endian float64 '<f8', float32 '<f4', uint8 '|u1'; "
                   "convert with X.astype('<f8'))");
}

// The (n, d) of a C-order 2-D array the harness can embed.
static std::pair<index_t, index_t> npy_shape(const NpyHeader& h, const std::string& path) {
  if (h.fortran_order) {
    throw UsageError(path + ": Fortran-order arrays are not supported "
                            "(save np.ascontiguousarray(X) instead)");
  }
  if (h.shape.size() != 2) {
    throw UsageError(path + ": expected a 2-D array, got " + std::to_string(h.shape.size()) +
                     " dimension(s)");
  }
  const index_t n = h.shape[0], d = h.shape[1];
  if (n < 2 || d < 1) {
    throw UsageError(path + ": need at least 2 rows and 1 column, got shape (" +
                     std::to_string(n) + ", " + std::to_string(d) + ")");
  }
  if (n > std::numeric_limits<std::int32_t>::max()) {
    throw UsageError(path + ": too many rows for the core's 32-bit neighbour indices");
  }
  const index_t max_elems = std::numeric_limits<index_t>::max() / 8;
  if (d > max_elems / n) throw UsageError(path + ": shape too large");
  return {n, d};
}

// The n·d values of `raw` as doubles, refusing non-finite ones.
static std::vector<double> decode_npy_values(const std::string& raw, NpyType type, index_t n,
                                             index_t d, const std::string& path) {
  const index_t count = n * d;
  std::vector<double> values(static_cast<std::size_t>(count));
  const char* src = raw.data();
  for (index_t e = 0; e < count; ++e) {
    double v = 0.0;
    if (type == NpyType::kF64) {
      std::memcpy(&v, src + e * 8, 8);
    } else if (type == NpyType::kF32) {
      float f = 0.0f;
      std::memcpy(&f, src + e * 4, 4);
      v = f;
    } else {
      v = static_cast<unsigned char>(src[e]);
    }
    if (!std::isfinite(v)) {
      throw UsageError(path + ": non-finite value at row " + std::to_string(e / d) + ", column " +
                       std::to_string(e % d));
    }
    values[static_cast<std::size_t>(e)] = v;
  }
  return values;
}

static Dataset load_npy(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw UsageError(path + ": cannot open: " + std::strerror(errno));
  file.seekg(0, std::ios::end);
  const std::streamoff file_size = file.tellg();
  file.seekg(0, std::ios::beg);
  const NpyHeader header = read_npy_header(file, path, file_size);
  const auto [type, item, type_name] = npy_type(header.descr, path);
  const auto [n, d] = npy_shape(header, path);
  const std::streamoff payload = static_cast<std::streamoff>(n * d) * static_cast<std::streamoff>(item);
  if (file_size - header.data_offset != payload) {
    throw UsageError(path + ": data size does not match the header: shape (" + std::to_string(n) +
                     ", " + std::to_string(d) + ") of " + type_name + " needs " +
                     std::to_string(payload) + " bytes, the file has " +
                     std::to_string(file_size - header.data_offset));
  }
  if (!host_is_little_endian() && type != NpyType::kU8) {
    throw UsageError("this harness reads little-endian .npy data on little-endian hosts only");
  }
  Dataset data;
  data.n = n;
  data.d = d;
  data.values = decode_npy_values(read_npy_bytes(file, path, static_cast<std::size_t>(payload), "data"),
                                  type, n, d, path);
  data.description = path + " (" + type_name + ", npy v" + std::to_string(header.major) + ")";
  return data;
}

static Dataset make_blobs(index_t n, index_t d, std::uint64_t seed) {
  if (d > std::numeric_limits<index_t>::max() / 8 / n) throw UsageError("--blobs: N * D too large");
  turbotsne::Rng rng(seed);
  const index_t centres = std::min<index_t>(kBlobCentres, n);
  std::vector<double> centre(static_cast<std::size_t>(centres * d));
  for (double& c : centre) c = kBlobCentreSpread * rng.normal();
  Dataset data;
  data.n = n;
  data.d = d;
  data.values.resize(static_cast<std::size_t>(n * d));
  for (index_t i = 0; i < n; ++i) {
    const double* c = &centre[static_cast<std::size_t>((i % centres) * d)];
    for (index_t j = 0; j < d; ++j) data.values[static_cast<std::size_t>(i * d + j)] = c[j] + rng.normal();
  }
  data.description = "Gaussian blobs (" + std::to_string(centres) +
                     " centres, centre std " + std::to_string(static_cast<int>(kBlobCentreSpread)) +
                     ", cluster std 1, seed " + std::to_string(seed) + ")";
  return data;
}

// ---------------------------------------------------------------------------------------
// Timing

static double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Runs f() `repeats` times and returns the median wall time in seconds.
template <class F>
static double time_median(int repeats, F&& f) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    times.push_back(seconds_since(start));
  }
  return median(times);
}

static turbotsne::Method to_method(const std::string& name) {
  if (name == "exact") return turbotsne::Method::kExact;
  if (name == "fft") return turbotsne::Method::kFft;
  return turbotsne::Method::kBarnesHut;
}

static std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

struct Row {
  int threads = 0;
  std::string method;
  double neighbours = 0.0, affinities = 0.0, init = 0.0;
  std::optional<double> gradient_ms, whole_run, kl;
  std::optional<turbotsne::Timings> breakdown;  // stage times of the median whole run
};

// ---------------------------------------------------------------------------------------

// The process's peak resident set (VmHWM in /proc/self/status), MB; -1 where there is none.
static long peak_resident_mb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb < 0 ? -1 : kb / 1024;
}

// The parameters every row shares, checked for n points.
static turbotsne::TsneParams base_params(const Options& opt, index_t n) {
  turbotsne::TsneParams base;
  base.perplexity = opt.perplexity;
  base.optimizer.n_iter = opt.n_iter;
  base.seed = opt.seed;
  base.init = turbotsne::Init::kPca;
  base.n_components = opt.dims;
  base.neighbors.method = opt.approximate ? turbotsne::NeighborMethod::kApproximate
                                          : turbotsne::NeighborMethod::kExact;
  base.neighbors.approximate.seed = opt.seed;
  try {
    base.validate(n);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("invalid parameters for n = ") + std::to_string(n) + ": " + e.what());
  }
  return base;
}

// The requested methods that can run on n points in dims dimensions; notes for the others
// and for oversubscribed thread counts.
static std::vector<std::string> usable_methods(const Options& opt, index_t n, int dims,
                                               std::vector<std::string>& notes) {
  std::vector<std::string> methods;
  for (const auto& m : opt.methods) {
    if (m == "exact" && n > kExactMaxSamples) {
      notes.push_back("exact skipped: n = " + std::to_string(n) + " > " +
                      std::to_string(kExactMaxSamples) + " (O(n²) per gradient)");
    } else if (m == "fft" && dims > 2) {
      notes.push_back("fft skipped: it embeds in 1 or 2 dimensions, not " + std::to_string(dims));
    } else {
      methods.push_back(m);
    }
  }
  const int procs = omp_get_num_procs();
  for (int t : opt.threads) {
    if (t > procs) {
      notes.push_back("threads = " + std::to_string(t) + " exceeds the " + std::to_string(procs) +
                      " hardware threads: that row is oversubscribed");
    }
  }
  return methods;
}

static void print_header(const Options& opt, const Dataset& data, const turbotsne::TsneParams& base,
                         int k) {
  std::printf("## turbotsne_bench\n\n");
  std::printf("- turbotsne version: %s\n", turbotsne::version());
  std::printf("- hardware threads (omp_get_num_procs): %d\n", omp_get_num_procs());
#if defined(__clang__)
  std::printf("- compiler: clang %s\n", __clang_version__);
#elif defined(__GNUC__)
  std::printf("- compiler: GCC %s\n", __VERSION__);
#endif
#if defined(NDEBUG)
  std::printf("- build: NDEBUG (assertions off)\n");
#else
  std::printf("- build: assertions on (not a Release build?)\n");
#endif
  std::printf("- data: %s, shape %lld x %lld\n", data.description.c_str(),
              static_cast<long long>(data.n), static_cast<long long>(data.d));
  std::printf("- embedding dimension: %d\n", base.n_components);
  std::printf("- neighbours: %s\n", opt.approximate ? "approximate (RP forest + NN-descent)" : "exact (VP-tree below 24 dimensions, brute force from 24)");
  std::printf("- perplexity %g (k = %d neighbours), n_iter %d, theta %g, init PCA, seed %llu\n",
              opt.perplexity, k, opt.n_iter, base.repulsion.theta,
              static_cast<unsigned long long>(opt.seed));
  std::printf("- timings: median of %d repeat%s, wall clock\n", opt.repeats,
              opt.repeats > 1 ? "s" : "");
  if (opt.run) {
    std::printf("- gradient embedding: the final embedding of the whole run of the same row\n");
  } else {
    std::printf("- gradient embedding: the PCA init scaled to std %g per column (--no-run)\n",
                kStandInStd);
  }
  std::printf("\n");
  std::fflush(stdout);
}

// The whole pipeline on `threads` threads, repeated: its median wall time, the stage times
// of the run of median total and the KL into `row`; Y receives the last run's embedding.
static void measure_whole_run(const Options& opt, turbotsne::ConstMatrix X,
                              turbotsne::TsneParams params, turbotsne::Matrix Y, Row& row,
                              std::vector<std::string>& notes) {
  std::vector<double> kls;
  std::vector<turbotsne::Timings> stage_times;
  std::fprintf(stderr, "[threads %d] whole run, %s, %d iterations...\n", row.threads,
               row.method.c_str(), opt.n_iter);
  row.whole_run = time_median(opt.repeats, [&] {
    const turbotsne::TsneResult result = turbotsne::run_tsne(X, params, Y);
    kls.push_back(result.kl);
    stage_times.push_back(result.timings);
  });
  auto total = [](const turbotsne::Timings& t) {
    return t.neighbors + t.affinities + t.init + t.optimize;
  };
  std::sort(stage_times.begin(), stage_times.end(),
            [&](const auto& a, const auto& b) { return total(a) < total(b); });
  row.breakdown = stage_times[stage_times.size() / 2];
  row.kl = kls.back();
  for (double v : kls) {
    if (v != kls.back()) {
      notes.push_back("KL differed between repeats (threads " + std::to_string(row.threads) +
                      ", " + row.method + "): the core is not deterministic here");
      break;
    }
  }
}

// Y: each column of the PCA init Y0 centred and scaled to std kStandInStd (the gradient's
// stand-in embedding with --no-run).
static void stand_in_embedding(const std::vector<double>& Y0, turbotsne::Matrix Y) {
  std::copy(Y0.begin(), Y0.end(), Y.data);
  const index_t n = Y.rows;
  for (index_t c = 0; c < Y.cols; ++c) {
    double mean = 0.0, var = 0.0;
    for (index_t i = 0; i < n; ++i) mean += Y(i, c);
    mean /= static_cast<double>(n);
    for (index_t i = 0; i < n; ++i) var += (Y(i, c) - mean) * (Y(i, c) - mean);
    const double sd = std::sqrt(var / static_cast<double>(n));
    if (!(sd > 0.0)) throw std::runtime_error("the PCA init has a constant column");
    for (index_t i = 0; i < n; ++i) Y(i, c) = (Y(i, c) - mean) * (kStandInStd / sd);
  }
}

// The rows of one thread count: the stages before the optimisation once, then per method a
// whole run (or the stand-in embedding) and the gradient at its embedding.
static void measure_threads(const Options& opt, turbotsne::ConstMatrix X,
                            const turbotsne::TsneParams& base, int k, int threads,
                            const std::vector<std::string>& methods, std::vector<Row>& rows,
                            std::vector<std::string>& notes) {
  const index_t n = X.rows;
  const int dims = base.n_components;
  std::fprintf(stderr, "[threads %d] neighbours...\n", threads);
  turbotsne::KnnGraph graph;
  const double t_knn = time_median(opt.repeats, [&] {
    graph = turbotsne::find_neighbors(X, k, base.neighbors, threads);
  });
  std::fprintf(stderr, "[threads %d] affinities...\n", threads);
  turbotsne::CsrMatrix P;
  const double t_aff = time_median(opt.repeats, [&] {
    P = turbotsne::symmetrize(turbotsne::conditional_probabilities(graph, opt.perplexity, threads),
                              threads);
  });
  graph = turbotsne::KnnGraph{};
  std::fprintf(stderr, "[threads %d] init...\n", threads);
  std::vector<double> Y0(static_cast<std::size_t>(n * dims));
  const double t_init = time_median(opt.repeats, [&] {
    turbotsne::initialize(X, turbotsne::Init::kPca, opt.seed, {Y0.data(), n, dims}, threads);
  });
  Row stages;
  stages.threads = threads;
  stages.method = "-";
  stages.neighbours = t_knn, stages.affinities = t_aff, stages.init = t_init;
  if (methods.empty()) rows.push_back(stages);
  for (const auto& name : methods) {
    Row row = stages;
    row.method = name;
    std::vector<double> Y(static_cast<std::size_t>(n * dims));
    const turbotsne::Matrix Ym{Y.data(), n, dims};
    if (opt.run) {
      turbotsne::TsneParams params = base;
      params.n_threads = threads;
      params.method = to_method(name);
      measure_whole_run(opt, X, params, Ym, row, notes);
    } else {
      stand_in_embedding(Y0, Ym);
    }
    std::fprintf(stderr, "[threads %d] gradient, %s...\n", threads, name.c_str());
    const auto repulsion =
        turbotsne::make_repulsion(to_method(name), dims, base.dof, base.repulsion);
    std::vector<double> grad(Y.size()), work(Y.size());
    const turbotsne::Matrix G{grad.data(), n, dims}, W{work.data(), n, dims};
    auto gradient = [&] {
      turbotsne::compute_gradient(P.view(), Ym, *repulsion, 1.0, false, G, W, threads);
    };
    gradient();  // warm-up: the optimiser reuses one repulsion object across iterations
    row.gradient_ms = 1e3 * time_median(opt.repeats, gradient);
    rows.push_back(row);
  }
}

// KL must not depend on the thread count (the core's contract).
static void check_kl_across_threads(const std::vector<std::string>& methods,
                                    const std::vector<Row>& rows, std::vector<std::string>& notes) {
  for (const auto& name : methods) {
    std::optional<double> first;
    for (const Row& row : rows) {
      if (row.method != name || !row.kl) continue;
      if (!first) {
        first = row.kl;
      } else if (*row.kl != *first) {
        notes.push_back("KL of " + name + " differs between thread counts");
        break;
      }
    }
  }
}

static void print_tables(const std::vector<Row>& rows, index_t n, index_t d,
                         const std::vector<std::string>& notes) {
  std::printf("| n | d | threads | method | neighbours s | affinities s | init s | gradient ms "
              "| whole run s | KL |\n");
  std::printf("|---:|---:|---:|:---|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& row : rows) {
    std::printf("| %lld | %lld | %d | %s | %s | %s | %s | %s | %s | %s |\n",
                static_cast<long long>(n), static_cast<long long>(d), row.threads,
                row.method.c_str(), fmt("%.3f", row.neighbours).c_str(),
                fmt("%.3f", row.affinities).c_str(), fmt("%.3f", row.init).c_str(),
                row.gradient_ms ? fmt("%.2f", *row.gradient_ms).c_str() : "-",
                row.whole_run ? fmt("%.2f", *row.whole_run).c_str() : "-",
                row.kl ? fmt("%.4f", *row.kl).c_str() : "-");
  }
  bool any_breakdown = false;
  for (const Row& row : rows) any_breakdown = any_breakdown || row.breakdown.has_value();
  if (any_breakdown) {
    std::printf("\nWhere the whole run's time goes (the run of median total, seconds):\n\n");
    std::printf("| threads | method | neighbours | affinities | init | attraction | repulsion "
                "| update | other | total |\n");
    std::printf("|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const Row& row : rows) {
      if (!row.breakdown) continue;
      const turbotsne::Timings& t = *row.breakdown;
      const double other = t.optimize - t.attraction - t.repulsion - t.update;
      std::printf("| %d | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
                  row.threads, row.method.c_str(), t.neighbors, t.affinities, t.init,
                  t.attraction, t.repulsion, t.update, other,
                  t.neighbors + t.affinities + t.init + t.optimize);
    }
  }
  const long peak = peak_resident_mb();
  if (peak >= 0) std::printf("\nPeak resident memory of the process (VmHWM): %ld MB\n", peak);
  if (!notes.empty()) {
    std::printf("\n");
    for (const auto& note : notes) std::printf("Note: %s\n", note.c_str());
  }
}

static int run(const Options& opt) {
  Dataset data = opt.have_blobs ? make_blobs(opt.blobs_n, opt.blobs_d, opt.seed)
                                : load_npy(opt.input);
  const turbotsne::ConstMatrix X{data.values.data(), data.n, data.d};
  const turbotsne::TsneParams base = base_params(opt, data.n);
  const int k = turbotsne::neighbor_count(data.n, opt.perplexity);
  std::vector<std::string> notes;
  const std::vector<std::string> methods = usable_methods(opt, data.n, base.n_components, notes);
  print_header(opt, data, base, k);
  std::vector<Row> rows;
  for (int threads : opt.threads) measure_threads(opt, X, base, k, threads, methods, rows, notes);
  check_kl_across_threads(methods, rows, notes);
  print_tables(rows, data.n, data.d, notes);
  return 0;
}

// A 2-D layout like a late-stage t-SNE embedding of n points: 20 Gaussian clusters of
// unequal size and width whose centres fill a disc. The span grows like sqrt(n), matching a
// 750-iteration MNIST-70k run with learning rate n/12 (about 165 units across).
static std::vector<double> make_layout(index_t n, std::uint64_t seed) {
  constexpr int kClusters = 20;
  const double span = 165.0 * std::sqrt(static_cast<double>(n) / 70000.0);
  turbotsne::Rng rng(seed);
  std::vector<double> cx(kClusters), cy(kClusters), width(kClusters), weight(kClusters);
  double total = 0.0;
  for (int c = 0; c < kClusters; ++c) {
    const double r = 0.4 * span * std::sqrt(rng.uniform()), a = 6.283185307179586 * rng.uniform();
    cx[c] = r * std::cos(a);
    cy[c] = r * std::sin(a);
    width[c] = 0.03 * span * (0.5 + rng.uniform());
    weight[c] = 0.5 + rng.uniform();
    total += weight[c];
  }
  std::vector<double> Y(static_cast<std::size_t>(2 * n));
  for (index_t i = 0; i < n; ++i) {
    double u = rng.uniform() * total;
    int c = 0;
    while (c < kClusters - 1 && u > weight[c]) u -= weight[c++];
    Y[2 * i] = cx[c] + width[c] * rng.normal();
    Y[2 * i + 1] = cy[c] + width[c] * rng.normal();
  }
  return Y;
}

static int run_layouts(const Options& opt) {
  std::printf("## turbotsne_bench: repulsion per iteration on generated 2-D layouts\n\n");
  std::printf("- turbotsne version: %s; hardware threads: %d\n", turbotsne::version(), omp_get_num_procs());
  std::printf("- timings: median of %d repeats after one warm-up, wall clock, milliseconds\n\n", opt.repeats);
  std::printf("| n | span | method | threads | grid (boxes/dim, FFT size) | total ms | grid ms | spread ms | FFT ms | interpolate ms |\n");
  std::printf("|---:|---:|:---|---:|:---|---:|---:|---:|---:|---:|\n");
  turbotsne::RepulsionParams rp;
  for (const index_t n : opt.layout) {
    std::vector<double> Y = make_layout(n, opt.seed);
    const turbotsne::ConstMatrix Ym{Y.data(), n, 2};
    double lo = Y[0], hi = Y[0];
    for (double v : Y) lo = std::min(lo, v), hi = std::max(hi, v);
    std::vector<double> forces(Y.size());
    const turbotsne::Matrix F{forces.data(), n, 2};
    for (const auto& name : opt.methods) {
      if (name == "exact" && n > kExactMaxSamples) continue;
      for (int threads : opt.threads) {
        const auto repulsion = turbotsne::make_repulsion(to_method(name), 2, 1.0, rp);
        auto* fft = dynamic_cast<turbotsne::FftRepulsion*>(repulsion.get());
        repulsion->compute(Ym, F, threads);  // warm-up
        std::vector<double> total, grid, spread, transform, interp;
        for (int r = 0; r < opt.repeats; ++r) {
          const auto start = std::chrono::steady_clock::now();
          repulsion->compute(Ym, F, threads);
          total.push_back(1e3 * seconds_since(start));
          if (fft != nullptr) {
            const auto& t = fft->last_timings();
            grid.push_back(1e3 * t.grid);
            spread.push_back(1e3 * t.spread);
            transform.push_back(1e3 * t.fft);
            interp.push_back(1e3 * t.interpolate);
          }
        }
        const std::string grid_text = fft != nullptr ? std::to_string(fft->last_boxes_per_dim()) + ", " +
                                      std::to_string(fft->last_fft_size()) : "-";
        auto cell = [&](const std::vector<double>& v) { return v.empty() ? std::string("-") : fmt("%.2f", median(v)); };
        std::printf("| %lld | %.0f | %s | %d | %s | %s | %s | %s | %s | %s |\n",
                    static_cast<long long>(n), hi - lo, name.c_str(), threads, grid_text.c_str(),
                    fmt("%.2f", median(total)).c_str(), cell(grid).c_str(), cell(spread).c_str(),
                    cell(transform).c_str(), cell(interp).c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

// Fails unless the embedding Y of `name` is finite and, after the first thread count (whose
// embedding `first` keeps), equal to it bit for bit.
static void check_thread_independent(const char* name, const std::vector<double>& Y,
                                     std::vector<double>& first) {
  for (double v : Y) {
    if (!std::isfinite(v)) throw std::runtime_error(std::string(name) + ": non-finite embedding");
  }
  if (first.empty()) {
    first = Y;
  } else if (Y != first) {
    throw std::runtime_error(std::string(name) + ": the embedding depends on the thread count");
  }
}

// --contrastive: each loss on every thread count, timed; the embeddings must be finite and
// bit-identical across thread counts (the optimiser's promise).
static int run_contrastive_losses(const Options& opt) {
  Dataset data = opt.have_blobs ? make_blobs(opt.blobs_n, opt.blobs_d, opt.seed)
                                : load_npy(opt.input);
  const turbotsne::ConstMatrix X{data.values.data(), data.n, data.d};
  std::printf("## turbotsne_bench: contrastive embeddings, n = %lld, d = %lld, %d epochs\n\n",
              static_cast<long long>(data.n), static_cast<long long>(data.d), opt.n_iter);
  std::printf("| loss | threads | seconds | final loss | Z |\n|:---|---:|---:|---:|---:|\n");
  const std::pair<const char*, turbotsne::ContrastiveLoss> losses[] = {
      {"neg", turbotsne::ContrastiveLoss::kNeg},
      {"nce", turbotsne::ContrastiveLoss::kNce},
      {"infonce", turbotsne::ContrastiveLoss::kInfoNce}};
  for (const auto& [name, loss] : losses) {
    std::vector<double> first;
    for (int threads : opt.threads) {
      turbotsne::ContrastiveParams params;
      params.n_components = opt.dims;
      params.perplexity = opt.perplexity;
      params.seed = opt.seed;
      params.n_threads = threads;
      params.neighbors.method = opt.approximate ? turbotsne::NeighborMethod::kApproximate
                                                : turbotsne::NeighborMethod::kExact;
      params.optimizer.loss = loss;
      params.optimizer.n_epochs = opt.n_iter;
      try {
        params.validate(data.n);
      } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("invalid contrastive parameters: ") + e.what());
      }
      std::vector<double> Y(static_cast<size_t>(data.n * params.n_components));
      const auto start = std::chrono::steady_clock::now();
      const turbotsne::ContrastiveResult result = turbotsne::run_contrastive(
          X, params, turbotsne::Matrix{Y.data(), data.n, params.n_components});
      const double seconds = seconds_since(start);
      std::printf("| %s | %d | %.3f | %.5g | %.5g |\n", name, threads, seconds, result.loss, result.z);
      std::fflush(stdout);
      check_thread_independent(name, Y, first);
    }
  }
  return 0;
}

// --sne: the SNE family's objectives (sne.hpp) on every thread count, timed; the
// embeddings must be finite and bit-identical across thread counts.
static int run_sne_family(const Options& opt) {
  Dataset data = opt.have_blobs ? make_blobs(opt.blobs_n, opt.blobs_d, opt.seed)
                                : load_npy(opt.input);
  const turbotsne::ConstMatrix X{data.values.data(), data.n, data.d};
  if (data.n > kExactMaxSamples) throw UsageError("--sne: the SNE family is exact; use fewer points");
  std::printf("## turbotsne_bench: the SNE family, n = %lld, d = %lld, %d iterations\n\n",
              static_cast<long long>(data.n), static_cast<long long>(data.d), opt.n_iter);
  std::printf("| objective | threads | seconds | final cost |\n|:---|---:|---:|---:|\n");
  turbotsne::NeighborParams neighbors;
  neighbors.method = opt.approximate ? turbotsne::NeighborMethod::kApproximate
                                     : turbotsne::NeighborMethod::kExact;
  const turbotsne::CsrMatrix conditional =
      turbotsne::conditional_probabilities(X, opt.perplexity, neighbors, opt.threads.front());
  const turbotsne::CsrMatrix joint =
      turbotsne::joint_probabilities(X, opt.perplexity, neighbors, opt.threads.front());
  const std::pair<const char*, turbotsne::SneObjective> objectives[] = {
      {"sne", {turbotsne::Objective::sne, 0.0}},
      {"symmetric_sne", {turbotsne::Objective::symmetric_sne, 0.0}},
      {"uni_sne", {turbotsne::Objective::uni_sne, 0.1}}};
  turbotsne::OptimizerParams params;
  params.n_iter = opt.n_iter;
  params.early_exaggeration_iter = opt.n_iter / 3;
  for (const auto& [name, objective] : objectives) {
    const turbotsne::CsrView P =
        objective.objective == turbotsne::Objective::sne ? conditional.view() : joint.view();
    std::vector<double> first;
    for (int threads : opt.threads) {
      std::vector<double> Y(static_cast<size_t>(data.n * opt.dims));
      const turbotsne::Matrix y{Y.data(), data.n, opt.dims};
      turbotsne::initialize(X, turbotsne::Init::kRandom, opt.seed, y, threads);
      const auto start = std::chrono::steady_clock::now();
      const turbotsne::SneResult result = turbotsne::optimize_sne(objective, P, y, params, threads);
      std::printf("| %s | %d | %.3f | %.6g |\n", name, threads, seconds_since(start), result.cost);
      std::fflush(stdout);
      check_thread_independent(name, Y, first);
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    const Options opt = parse_args(argc, argv);
    if (!opt.layout.empty()) return run_layouts(opt);
    if (opt.contrastive) return run_contrastive_losses(opt);
    if (opt.sne) return run_sne_family(opt);
    return run(opt);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "turbotsne_bench: error: %s\n", e.what());
    std::fprintf(stderr, "run 'turbotsne_bench --help' for usage\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "turbotsne_bench: failed: %s\n", e.what());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "turbotsne_bench: failed with an unknown exception\n");
    return 1;
  }
}
