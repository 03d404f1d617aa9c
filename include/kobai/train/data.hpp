// Data for training: CSV and .npy files read with xtensor's readers, a data set of features and
// targets, and minibatches in a shuffled order fixed by a seed. A batch is a run of contiguous rows
// of buffers shuffled once per epoch, adapted (xt::adapt, no copy) so that it binds to a compiled
// step like any container: `step(X = batch.features, y = batch.targets)`.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xcsv.hpp>
#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/train/random.hpp"

namespace kobai::train {

/// Features and targets, one row per example.
template <class T = double>
struct dataset {
  xt::xtensor<T, 2> features;
  xt::xtensor<T, 2> targets;
  [[nodiscard]] std::size_t size() const { return features.shape(0); }
};

/// Reads a CSV file of numbers: `header_rows` lines skipped, lines starting with '#' ignored; the
/// `target_columns` (in the order given) become the targets and the other columns, in file order,
/// the features. A missing file, rows of different lengths, a cell that is not a number or a target
/// column past the last is a kobai::error naming the file.
template <class T = double>
dataset<T> load_csv(const std::string& path, const std::vector<std::size_t>& target_columns,
                    std::size_t header_rows = 1, char delimiter = ',') {
  std::ifstream file(path);
  if (!file) throw error(kobai::detail::join("kobai::train::load_csv: cannot open '", path, "'"));
  // xtensor's reader checks only the total count of cells: check every row's length first.
  std::stringstream rows;
  std::string line;
  std::size_t line_number = 0, columns = 0, data_rows = 0;
  while (std::getline(file, line)) {
    ++line_number;
    if (line_number <= header_rows) {
      rows << line << '\n';
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const auto cells = static_cast<std::size_t>(std::count(line.begin(), line.end(), delimiter)) + 1;
    if (data_rows == 0) columns = cells;
    if (cells != columns)
      throw error(kobai::detail::join("kobai::train::load_csv: '", path, "' line ", std::to_string(line_number),
                                      " has ", std::to_string(cells), " cells, the first data row ",
                                      std::to_string(columns)));
    for (std::size_t i = 0, column = 1; i < line.size(); ++i) {
      const char c = line[i];
      column += c == delimiter ? 1 : 0;
      if (c != delimiter && c != ' ' && c != '\r' && c != '\t' && c != '.' && c != '-' && c != '+' && c != 'e' &&
          c != 'E' && (c < '0' || c > '9'))
        throw error(kobai::detail::join("kobai::train::load_csv: '", path, "' line ", std::to_string(line_number),
                                        " column ", std::to_string(column), " is not a number"));
    }
    rows << line << '\n';
    ++data_rows;
  }
  for (const std::size_t c : target_columns)
    if (c >= columns)
      throw error(kobai::detail::join("kobai::train::load_csv: target column ", std::to_string(c), " of '", path,
                                      "', which has ", std::to_string(columns), " columns"));
  const auto table = xt::load_csv<T>(rows, delimiter, header_rows);
  std::vector<bool> is_target(columns, false);
  for (const std::size_t c : target_columns) is_target[c] = true;
  const std::size_t targets = target_columns.size(),
                    features = columns - static_cast<std::size_t>(std::count(is_target.begin(), is_target.end(), true));
  dataset<T> data{xt::xtensor<T, 2>::from_shape({data_rows, features}),
                  xt::xtensor<T, 2>::from_shape({data_rows, targets})};
  for (std::size_t r = 0; r < data_rows; ++r) {
    for (std::size_t c = 0, f = 0; c < columns; ++c)
      if (!is_target[c]) data.features(r, f++) = table(r, c);
    for (std::size_t t = 0; t < targets; ++t) data.targets(r, t) = table(r, target_columns[t]);
  }
  return data;
}

/// Splits a data set into (training, held out) rows: the held-out part is the last
/// ⌈test_fraction·N⌉ rows of an order shuffled from `seed` (scikit-learn's train_test_split).
template <class T>
std::pair<dataset<T>, dataset<T>> split(const dataset<T>& data, double test_fraction, std::uint64_t seed);

/// One-hot rows of `classes` columns from a column of class indices (N, 1), as
/// torch.nn.functional.one_hot: an entry that is not an integer in [0, classes) is a kobai::error
/// naming its row.
template <class T>
xt::xtensor<T, 2> one_hot(const xt::xtensor<T, 2>& labels, std::size_t classes) {
  if (labels.shape(1) != 1)
    throw shape_error(
        kobai::detail::join("kobai::train::one_hot: labels are one column, not ", std::to_string(labels.shape(1))));
  auto out = xt::xtensor<T, 2>(xt::zeros<T>({labels.shape(0), classes}));
  for (std::size_t r = 0; r < labels.shape(0); ++r) {
    const T label = labels(r, 0);
    if (!(label >= 0 && label < static_cast<T>(classes)) || label != static_cast<T>(static_cast<std::size_t>(label)))
      throw error(kobai::detail::join("kobai::train::one_hot: row ", std::to_string(r),
                                      "'s label is not a class index in [0, ", std::to_string(classes), ")"));
    out(r, static_cast<std::size_t>(label)) = 1;
  }
  return out;
}

/// scikit-learn's StandardScaler: each feature column's mean and standard deviation (population)
/// from the rows it is fitted on; apply() maps x to (x − mean) / scale, with scale 1 for a constant
/// column.
template <class T>
struct standard_scaler {
  xt::xtensor<double, 1> mean, scale;

  static standard_scaler fit(const xt::xtensor<T, 2>& features) {
    const std::size_t rows = features.shape(0), columns = features.shape(1);
    if (rows == 0) throw error("kobai::train::standard_scaler: no rows to fit");
    standard_scaler s{xt::zeros<double>({columns}), xt::zeros<double>({columns})};
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < columns; ++c) s.mean(c) += static_cast<double>(features(r, c));
    s.mean /= static_cast<double>(rows);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < columns; ++c) {
        const double d = static_cast<double>(features(r, c)) - s.mean(c);
        s.scale(c) += d * d;
      }
    for (std::size_t c = 0; c < columns; ++c) {
      const double deviation = std::sqrt(s.scale(c) / static_cast<double>(rows));
      s.scale(c) = deviation > 0 ? deviation : 1;
    }
    return s;
  }
  void apply(xt::xtensor<T, 2>& features) const {
    if (features.shape(1) != mean.size())
      throw shape_error(kobai::detail::join("kobai::train::standard_scaler: fitted on ", std::to_string(mean.size()),
                                            " columns, applied to ", std::to_string(features.shape(1))));
    for (std::size_t r = 0; r < features.shape(0); ++r)
      for (std::size_t c = 0; c < mean.size(); ++c)
        features(r, c) = static_cast<T>((static_cast<double>(features(r, c)) - mean(c)) / scale(c));
  }
};

namespace detail {
// The .npy array `bytes` hold as an xt::xtensor<T, N>, when its elements are U's (false when they
// are of another type); `what` starts the message of any other error.
template <class U, class T, std::size_t N>
bool npy_as(std::istream& bytes, const std::string& what, xt::xtensor<T, N>& out) {
  try {
    auto array = xt::load_npy<U>(bytes);
    if (array.dimension() != N)
      throw error(kobai::detail::join(what, " holds an array of rank ", std::to_string(array.dimension()), ", not ",
                                      std::to_string(N)));
    if constexpr (N == 0)
      out() = static_cast<T>(*array.data());  // (xtensor's broadcast of a rank-0 cast trips -Wnonnull)
    else
      out = xt::xtensor<T, N>(xt::cast<T>(array));
    return true;
  } catch (const kobai::error&) {
    throw;
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    if (message.rfind("Cast error: formats", 0) == 0) return false;
    throw error(kobai::detail::join(what, ": ", message));
  }
}
template <class U, class T, std::size_t N>
bool read_npy_as(const std::string& path, xt::xtensor<T, N>& out) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw error(kobai::detail::join("kobai::train::load_npy: cannot open '", path, "'"));
  return npy_as<U>(file, "kobai::train::load_npy: '" + path + "'", out);
}
}  // namespace detail

/// Reads a rank-N .npy file (NumPy's format, xtensor's reader) of float64, float32, int64 or int32
/// elements into an xt::xtensor<T, N>, converting the elements. A missing or malformed file, another
/// rank or another element type is a kobai::error naming the file.
template <class T, std::size_t N>
xt::xtensor<T, N> load_npy(const std::string& path) {
  xt::xtensor<T, N> out;
  if (detail::read_npy_as<T>(path, out) || detail::read_npy_as<double>(path, out) ||
      detail::read_npy_as<float>(path, out) || detail::read_npy_as<std::int64_t>(path, out) ||
      detail::read_npy_as<std::int32_t>(path, out))
    return out;
  throw error(kobai::detail::join("kobai::train::load_npy: '", path,
                                  "' holds elements other than float64, float32, int64 or int32"));
}

namespace detail {

/// The rank of a container with a fixed-size shape (xt::xtensor, xt::adapt with an array shape), 0
/// for a number.
template <class C>
inline constexpr std::size_t rank_of = [] {
  if constexpr (std::is_arithmetic_v<std::remove_cvref_t<C>>)
    return std::size_t{0};
  else
    return std::tuple_size_v<typename std::remove_cvref_t<C>::shape_type>;
}();

/// Row i of an epoch's order is row order[i] of the data: the identity, or a Fisher–Yates shuffle
/// from SplitMix64 seeded by the seed and the epoch (the same on every platform).
inline void epoch_order(std::vector<std::size_t>& order, std::uint64_t seed, std::size_t epoch, bool shuffle) {
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!shuffle || order.size() < 2) return;
  random_stream random(seed ^ (0xD1B54A32D192ED03ULL * (epoch + 1)));
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[random.below(i + 1)]);
}

}  // namespace detail

template <class T>
std::pair<dataset<T>, dataset<T>> split(const dataset<T>& data, double test_fraction, std::uint64_t seed) {
  if (!(test_fraction > 0 && test_fraction < 1))
    throw error("kobai::train::split: test_fraction must lie strictly between 0 and 1");
  const std::size_t n = data.size(), held = static_cast<std::size_t>(std::ceil(test_fraction * static_cast<double>(n)));
  if (held == 0 || held >= n)
    throw error(kobai::detail::join("kobai::train::split: ", std::to_string(n), " rows cannot be split at ",
                                    std::to_string(test_fraction)));
  std::vector<std::size_t> order(n);
  detail::epoch_order(order, seed, 0, true);
  const auto take = [&](std::size_t first, std::size_t count) {
    const std::size_t f = data.features.shape(1), t = data.targets.shape(1);
    dataset<T> out{xt::xtensor<T, 2>::from_shape({count, f}), xt::xtensor<T, 2>::from_shape({count, t})};
    for (std::size_t r = 0; r < count; ++r) {
      std::copy_n(data.features.data() + order[first + r] * f, f, out.features.data() + r * f);
      std::copy_n(data.targets.data() + order[first + r] * t, t, out.targets.data() + r * t);
    }
    return out;
  };
  return {take(0, n - held), take(n - held, held)};
}

namespace detail {

/// The rows of a row-major container of rank R ≥ 1, permuted into a buffer it owns; a run of
/// contiguous rows of the buffer is adapted without a copy (it binds to a compiled program).
template <class T, std::size_t R>
class row_buffer {
 public:
  using adapted =
      decltype(xt::adapt(static_cast<T*>(nullptr), std::size_t{}, xt::no_ownership(), std::array<std::size_t, R>{}));

  template <class Container>
  explicit row_buffer(const Container& source) : source_(source.data()) {
    static_assert(R >= 1, "kobai::train: data are tensors of one row per example (rank 1 or more)");
    std::copy_n(source.shape().begin(), R, shape_.begin());
    buffer_.resize(source.size());
    width_ = shape_[0] == 0 ? 0 : source.size() / shape_[0];
  }
  [[nodiscard]] std::size_t rows() const { return shape_[0]; }
  [[nodiscard]] const std::array<std::size_t, R>& shape() const { return shape_; }
  /// Lays the rows out in `order` (order[i]: the source row that becomes row i).
  void permute(const std::vector<std::size_t>& order) {
    for (std::size_t r = 0; r < order.size(); ++r)
      std::copy_n(source_ + order[r] * width_, width_, buffer_.data() + r * width_);
  }
  /// Rows [first, first + count) of the buffer, adapted.
  [[nodiscard]] adapted rows(std::size_t first, std::size_t count) {
    auto shape = shape_;
    shape[0] = count;
    return xt::adapt(buffer_.data() + first * width_, count * width_, xt::no_ownership(), shape);
  }

 private:
  const T* source_;
  std::array<std::size_t, R> shape_{};
  std::size_t width_ = 0;
  std::vector<T> buffer_;
};

}  // namespace detail

/// The minibatches of a data set for one epoch after another, in an order shuffled from `seed`
/// (the same on every platform: a SplitMix64 generator and Fisher–Yates), or in file order with
/// shuffle = false. Each epoch permutes the rows once into buffers the object keeps; batch k is then
/// rows [k·batch_size, …) of them, adapted without a copy. The last batch of an epoch holds the
/// remaining rows when batch_size does not divide the size. The data set's containers must outlive
/// the object and keep their memory (the rows are read from it at every epoch).
template <class T = double>
class minibatches {
 public:
  using adapted = typename detail::row_buffer<T, 2>::adapted;
  struct batch {
    adapted features;
    adapted targets;
    std::size_t rows;
  };

  minibatches(const dataset<T>& data, std::size_t batch_size, std::uint64_t seed, bool shuffle = true)
      : batch_size_(batch_size), seed_(seed), shuffle_(shuffle), features_(data.features), targets_(data.targets) {
    if (batch_size == 0) throw error("kobai::train::minibatches: batch_size must be at least 1");
    if (data.targets.shape(0) != data.size())
      throw shape_error(kobai::detail::join("kobai::train::minibatches: ", std::to_string(data.size()),
                                            " rows of features but ", std::to_string(data.targets.shape(0)),
                                            " of targets"));
    if (data.size() == 0) throw error("kobai::train::minibatches: the data set is empty");
    order_.resize(data.size());
    arrange();
  }

  /// Batches per epoch.
  [[nodiscard]] std::size_t count() const { return (order_.size() + batch_size_ - 1) / batch_size_; }
  /// The epoch the batches are of, from 0.
  [[nodiscard]] std::size_t epoch() const { return epoch_; }
  /// Row i of this epoch's order is row order()[i] of the data set.
  [[nodiscard]] const std::vector<std::size_t>& order() const { return order_; }

  /// Moves to the next epoch: a new order, the buffers permuted once.
  void next_epoch() {
    ++epoch_;
    arrange();
  }

  /// Batch k of this epoch (k < count()): views of contiguous rows, valid until next_epoch().
  [[nodiscard]] batch operator[](std::size_t k) {
    if (k >= count())
      throw error(
          kobai::detail::join("kobai::train::minibatches: batch ", std::to_string(k), " of ", std::to_string(count())));
    const std::size_t first = k * batch_size_, rows = std::min(batch_size_, order_.size() - first);
    return {features_.rows(first, rows), targets_.rows(first, rows), rows};
  }

 private:
  void arrange() {
    detail::epoch_order(order_, seed_, epoch_, shuffle_);
    features_.permute(order_);
    targets_.permute(order_);
  }

  std::size_t batch_size_;
  std::uint64_t seed_;
  bool shuffle_;
  std::size_t epoch_ = 0;
  std::vector<std::size_t> order_;
  detail::row_buffer<T, 2> features_, targets_;
};

}  // namespace kobai::train
