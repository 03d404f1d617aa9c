// Training loops: kobai::train::fit(step, data, options) runs a compiled training step
// (train/step.hpp) over shuffled minibatches for some epochs, with a progress line on a terminal,
// the loss per epoch, validation loss and early stopping:
//   auto history = kobai::train::fit(step, kobai::train::data(X = features, Y = targets),
//                                    {.epochs = 20, .batch_size = 64, .seed = 1},
//                                    kobai::train::data(X = held_out_X, Y = held_out_Y));
#pragma once

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/cpu/binding.hpp"
#include "kobai/expr/node.hpp"
#include "kobai/train/data.hpp"

namespace kobai::train {

/// Data for fit: containers (row-major, rank ≥ 1, one row per example) bound by name to the step's
/// data leaves, as in a call of the step: `train::data(X = features, Y = targets)`.
template <class... Bindings>
struct bound_data {
  std::tuple<Bindings...> bindings;
  std::size_t rows;
};

namespace detail {
template <class B>
using bound_container = std::remove_cvref_t<decltype(std::declval<B>().value)>;
}  // namespace detail

/// Binds containers to data leaves for fit. Every container has the same number of rows, else a
/// kobai::shape_error names the leaves and both counts.
template <class... Bindings>
bound_data<Bindings...> data(Bindings... bindings) {
  static_assert(sizeof...(Bindings) > 0, "kobai::train::data: bind the data leaves, `X = features, Y = targets`");
  static_assert(((detail::rank_of<detail::bound_container<Bindings>> >= 1) && ...),
                "kobai::train::data: bind tensors (xt::xtensor) of one row per example");
  static_assert((kobai::detail::is_row_major_container<detail::bound_container<Bindings>>::value && ...),
                "kobai::train::data: bind row-major containers (xt::xtensor, or xt::adapt of contiguous memory); copy "
                "a view or a column-major array into one first");
  bound_data<Bindings...> out{{std::move(bindings)...}, 0};
  const std::size_t rows[] = {std::get<Bindings>(out.bindings).value.shape()[0]...};
  const std::string_view names[] = {Bindings::name.view()...};
  out.rows = rows[0];
  for (std::size_t k = 1; k < sizeof...(Bindings); ++k)
    if (rows[k] != rows[0])
      throw shape_error(kobai::detail::join("kobai::train::data: '", std::string(names[0]), "' has ",
                                            std::to_string(rows[0]), " rows but '", std::string(names[k]), "' has ",
                                            std::to_string(rows[k])));
  if (out.rows == 0) throw error("kobai::train::data: the data set is empty");
  return out;
}

/// When fit shows its progress line: on a terminal only (automatic), always, or never.
enum class progress_display { automatic, always, never };

/// What fit reports after each epoch (to fit_options::on_epoch).
struct epoch_report {
  std::size_t epoch;  // from 1
  std::size_t epochs;
  double loss;             // the mean of the batch losses, weighted by their rows
  double validation_loss;  // NaN without validation data
  double seconds;          // the epoch's wall time
  double rows_per_second;
  double learning_rate;  // the rate the epoch ran with
};

struct fit_options {
  std::size_t epochs = 1;
  std::size_t batch_size = 32;
  std::uint64_t seed = 0;  // the shuffled order of every epoch follows from it
  bool shuffle = true;
  progress_display progress = progress_display::automatic;
  std::FILE* stream = stdout;  // where the progress line goes
  /// Whether the progress display ends each epoch with a summary line (false: the progress line is
  /// cleared, for an on_epoch callback that prints its own).
  bool epoch_lines = true;
  /// Early stopping: stop after `patience` epochs whose validation loss is not below the best by
  /// more than min_delta (0: never). Needs validation data.
  std::size_t patience = 0;
  double min_delta = 0;
  /// With validation data, put back the parameters of the epoch with the lowest validation loss when
  /// training ends or stops early (the optimizer's state stays that of the last step).
  bool restore_best = false;
  /// Called after every epoch (custom logging, a learning-rate schedule's step()).
  std::function<void(const epoch_report&)> on_epoch = {};
};

struct fit_history {
  std::vector<double> loss;             // per epoch
  std::vector<double> validation_loss;  // per epoch, with validation data
  std::size_t best_epoch = 0;           // from 1: the lowest validation loss (0 without validation)
  bool stopped_early = false;
};

namespace detail {

struct no_validation {};

inline std::string rate_text(double per_second) {
  char text[32];
  if (per_second >= 1e6)
    std::snprintf(text, sizeof text, "%.2fM", per_second / 1e6);
  else if (per_second >= 1e3)
    std::snprintf(text, sizeof text, "%.1fk", per_second / 1e3);
  else
    std::snprintf(text, sizeof text, "%.0f", per_second);
  return text;
}

template <class Step, class... Bindings, class Validation>
fit_history fit(Step& step, const bound_data<Bindings...>& data, const fit_options& options,
                const Validation& validation) {
  using T = typename Step::element_type;
  static_assert((std::is_same_v<typename bound_container<Bindings>::value_type, T> && ...),
                "kobai::train::fit: the data's element type must be the step's (compile_step<float> for float data)");
  constexpr bool validating = !std::is_same_v<Validation, no_validation>;
  if (options.batch_size == 0) throw error("kobai::train::fit: batch_size must be at least 1");
  if ((options.patience > 0 || options.restore_best) && !validating)
    throw error(
        "kobai::train::fit: early stopping (patience, restore_best) needs validation data: fit(step, data, options, "
        "validation)");
  const bool display = options.stream != nullptr &&
                       (options.progress == progress_display::always ||
                        (options.progress == progress_display::automatic && isatty(fileno(options.stream)) != 0));

  std::tuple<row_buffer<T, rank_of<bound_container<Bindings>>>...> buffers{
      row_buffer<T, rank_of<bound_container<Bindings>>>(std::get<Bindings>(data.bindings).value)...};
  std::vector<std::size_t> order(data.rows);
  const std::size_t batches = (data.rows + options.batch_size - 1) / options.batch_size;
  fit_history history;
  double best = std::numeric_limits<double>::infinity();
  std::size_t bad_epochs = 0;
  decltype(step.snapshot()) best_parameters{};  // (copied only with restore_best)
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();

  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    const auto epoch_start = clock::now();
    auto last_shown = epoch_start;
    epoch_order(order, options.seed, epoch, options.shuffle);
    std::apply([&](auto&... buffer) { (buffer.permute(order), ...); }, buffers);
    const double rate = step.learning_rate();
    double sum = 0;
    for (std::size_t k = 0; k < batches; ++k) {
      const std::size_t first = k * options.batch_size, rows = std::min(options.batch_size, data.rows - first);
      double loss = 0;
      try {
        loss = static_cast<double>(std::apply(
            [&](auto&... buffer) {
              return step(binding<Bindings::name, decltype(buffer.rows(0, 0))>{buffer.rows(first, rows)}...);
            },
            buffers));
      } catch (const kobai::error& e) {  // the same exception type, with the epoch and the batch
        const std::string where = kobai::detail::join(
            "kobai::train::fit: epoch ", std::to_string(epoch + 1), " of ", std::to_string(options.epochs), ", batch ",
            std::to_string(k + 1), " of ", std::to_string(batches), " (", std::to_string(rows), " rows): ", e.what());
        if (dynamic_cast<const shape_error*>(&e) != nullptr) throw shape_error(where);
        if (dynamic_cast<const binding_error*>(&e) != nullptr) throw binding_error(where);
        throw error(where);
      }
      sum += loss * static_cast<double>(rows);
      if (display && (clock::now() - last_shown > std::chrono::milliseconds(100) || k + 1 == batches)) {
        last_shown = clock::now();
        const double elapsed = std::chrono::duration<double>(last_shown - epoch_start).count();
        const double per_second = static_cast<double>(first + rows) / std::max(elapsed, 1e-9);
        const double total = std::chrono::duration<double>(last_shown - start).count();
        const double done = static_cast<double>(epoch) + static_cast<double>(k + 1) / static_cast<double>(batches);
        std::fprintf(options.stream, "\repoch %zu/%zu  batch %zu/%zu  loss %.4g  %s rows/s  %.1f s left   ", epoch + 1,
                     options.epochs, k + 1, batches, loss, rate_text(per_second).c_str(),
                     total / done * (static_cast<double>(options.epochs) - done));
        std::fflush(options.stream);
      }
    }
    const double seconds = std::chrono::duration<double>(clock::now() - epoch_start).count();
    epoch_report report{epoch + 1,
                        options.epochs,
                        sum / static_cast<double>(data.rows),
                        std::numeric_limits<double>::quiet_NaN(),
                        seconds,
                        static_cast<double>(data.rows) / std::max(seconds, 1e-9),
                        rate};
    history.loss.push_back(report.loss);
    bool stop = false;
    if constexpr (validating) {
      report.validation_loss =
          static_cast<double>(std::apply([&](const auto&... b) { return step.loss(b...); }, validation.bindings));
      history.validation_loss.push_back(report.validation_loss);
      if (report.validation_loss < best - options.min_delta) {
        best = report.validation_loss;
        history.best_epoch = epoch + 1;
        bad_epochs = 0;
        if (options.restore_best) best_parameters = step.snapshot();
      } else if (options.patience > 0 && ++bad_epochs >= options.patience) {
        stop = true;
      }
    }
    if (display && !options.epoch_lines) {
      std::fprintf(options.stream, "\r%100s\r", "");
      std::fflush(options.stream);
    } else if (display) {
      std::fprintf(options.stream, "\repoch %zu/%zu  loss %.4g", epoch + 1, options.epochs, report.loss);
      if (validating) std::fprintf(options.stream, "  validation loss %.4g", report.validation_loss);
      std::fprintf(options.stream, "  %s rows/s  %.2f s%s\n", rate_text(report.rows_per_second).c_str(), seconds,
                   "                    ");
      std::fflush(options.stream);
    }
    if (options.on_epoch) options.on_epoch(report);
    if (stop) {
      history.stopped_early = true;
      if (display) std::fprintf(options.stream, "early stop: best validation loss at epoch %zu\n", history.best_epoch);
      break;
    }
  }
  if (options.restore_best && history.best_epoch > 0) step.restore(best_parameters);
  return history;
}

}  // namespace detail

/// Trains `step` (train::compile_step) on `data` (train::data(…)) for options.epochs epochs of
/// minibatches: each epoch's rows in an order shuffled from options.seed, permuted once into
/// buffers, each batch a run of contiguous rows bound without a copy, the last batch short. Returns
/// the loss per epoch. A NaN or infinite loss stops it with a kobai::error naming the epoch and
/// the batch (the parameters are those before that batch).
template <class Step, class... Bindings>
fit_history fit(Step& step, const bound_data<Bindings...>& data, const fit_options& options) {
  return detail::fit(step, data, options, detail::no_validation{});
}
/// The same, with the loss on `validation` after each epoch, and early stopping on it.
template <class Step, class... Bindings, class... Validation>
fit_history fit(Step& step, const bound_data<Bindings...>& data, const fit_options& options,
                const bound_data<Validation...>& validation) {
  return detail::fit(step, data, options, validation);
}

}  // namespace kobai::train
