// Contractions (contractions.hpp): a softmax classifier and a one-hidden-layer MLP with cross-entropy.
#include "contractions.hpp"

using namespace kobai;
using namespace kobai::literals;
using namespace contraction_test;

namespace {
constexpr auto X = input<"X", 2>;  // (N, D)
constexpr auto Y = input<"Y", 2>;  // (N, C) one-hot
constexpr auto W1 = var<"W1", 2>;  // (D, H)
constexpr auto b1 = var<"b1", 1>;  // (H)
constexpr auto W = var<"W", 2>;    // (D or H, C)
constexpr auto b = var<"b", 1>;    // (C)

// The softmax classifier by hand: loss = mean over rows of CE(x·W + b, y), and its gradients.
struct classifier_reference {
  double loss = 0;
  std::vector<double> dW, db;
};
classifier_reference classifier_by_hand(const matrix& x, const matrix& y, const matrix& w, const matrix& bias) {
  const std::size_t n = x.rows, d = x.columns, c = w.columns;
  classifier_reference r{0, std::vector<double>(d * c), std::vector<double>(c)};
  std::vector<double> z(c), dz;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < c; ++k) {
      z[k] = bias.data[k];
      for (std::size_t j = 0; j < d; ++j) z[k] += x(i, j) * w(j, k);
    }
    r.loss += cross_entropy_row(z, &y.data[i * c], dz) / static_cast<double>(n);
    for (std::size_t k = 0; k < c; ++k) {
      r.db[k] += dz[k] / static_cast<double>(n);
      for (std::size_t j = 0; j < d; ++j) r.dW[j * c + k] += x(i, j) * dz[k] / static_cast<double>(n);
    }
  }
  return r;
}

// The MLP by hand: h = tanh(x·W1 + b1), loss = mean CE(h·W + b, y), and every gradient.
struct mlp_reference {
  double loss = 0;
  std::vector<double> dW1, db1, dW, db;
};
mlp_reference mlp_by_hand(const matrix& x, const matrix& y, const matrix& w1, const matrix& bias1, const matrix& w,
                          const matrix& bias) {
  const std::size_t n = x.rows, d = x.columns, hidden = w1.columns, c = w.columns;
  mlp_reference r{0, std::vector<double>(d * hidden), std::vector<double>(hidden), std::vector<double>(hidden * c),
                  std::vector<double>(c)};
  std::vector<double> h(hidden), z(c), dz, dh(hidden);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < hidden; ++k) {
      double a = bias1.data[k];
      for (std::size_t j = 0; j < d; ++j) a += x(i, j) * w1(j, k);
      h[k] = std::tanh(a);
    }
    for (std::size_t k = 0; k < c; ++k) {
      z[k] = bias.data[k];
      for (std::size_t j = 0; j < hidden; ++j) z[k] += h[j] * w(j, k);
    }
    r.loss += cross_entropy_row(z, &y.data[i * c], dz) / static_cast<double>(n);
    for (std::size_t j = 0; j < hidden; ++j) {
      dh[j] = 0;
      for (std::size_t k = 0; k < c; ++k) {
        dh[j] += dz[k] * w(j, k);
        r.dW[j * c + k] += h[j] * dz[k] / static_cast<double>(n);
      }
      dh[j] *= 1 - h[j] * h[j];
      r.db1[j] += dh[j] / static_cast<double>(n);
      for (std::size_t m = 0; m < d; ++m) r.dW1[m * hidden + j] += x(i, m) * dh[j] / static_cast<double>(n);
    }
    for (std::size_t k = 0; k < c; ++k) r.db[k] += dz[k] / static_cast<double>(n);
  }
  return r;
}
}  // namespace

TEST_CASE_TEMPLATE("a softmax classifier: loss and gradients at every tail, in blocks and row by row", T, float,
                   double) {
  constexpr auto loss = cross_entropy(matmul(X, W) + b, Y);
  auto step = compile(loss, grad(loss, W), grad(loss, b));
  unsigned seed = 1;
  for (std::size_t n : {1U, 7U, 17U, 33U, 257U})
    // rows shorter than a SIMD tile, and tiles with a tail; classes with a padded batch, and whole
    // batches of float (16, 32)
    for (std::size_t d : {1U, 7U, 17U, 33U})
      for (std::size_t c : {7U, 10U, 16U, 32U}) {
        for (int call = 0; call < 2; ++call, ++seed) {  // the second call on new data
          const matrix x = rounded<T>(random_matrix(n, d, 1.0, seed)), y = one_hot(n, c, seed + 1);
          const matrix w = rounded<T>(random_matrix(d, c, 0.5, seed + 2)),
                       bias = rounded<T>(random_matrix(1, c, 0.5, seed + 3));
          const classifier_reference want = classifier_by_hand(x, y, w, bias);
          for (const configuration& setting : configurations) {
            step.threads(setting.threads).grain(1).blocks(setting.blocks ? decltype(step)::block_extent : 0);
            const auto [L, dW, db] = step(X = tensor<T>(x), Y = tensor<T>(y), W = tensor<T>(w), b = vector<T>(bias));
            INFO("N = " << n << ", D = " << d << ", C = " << c << ", call " << call << ", " << setting);
            CHECK(relative_error(static_cast<double>(L), want.loss) < tolerance<T>);
            CHECK(relative_error(dW, want.dW) < tolerance<T>);
            CHECK(relative_error(db, want.db) < tolerance<T>);
          }
        }
      }
}

TEST_CASE_TEMPLATE("a softmax classifier over rows longer than block mode transposes, run in blocks", T, float,
                   double) {
  // Rows of more than 1024 elements are read across the block's rows (gathered), not transposed;
  // blocks(2048) makes block mode take inner loops that long.
  constexpr auto loss = cross_entropy(matmul(X, W) + b, Y);
  auto step = compile(loss, grad(loss, W), grad(loss, b));
  unsigned seed = 500;
  for (std::size_t n : {7U, 33U})
    for (int call = 0; call < 2; ++call, seed += 4) {  // the second call on new data
      const std::size_t d = 1100, c = 10;
      const matrix x = rounded<T>(random_matrix(n, d, 1.0, seed)), y = one_hot(n, c, seed + 1);
      const matrix w = rounded<T>(random_matrix(d, c, 0.05, seed + 2)),
                   bias = rounded<T>(random_matrix(1, c, 0.5, seed + 3));
      const classifier_reference want = classifier_by_hand(x, y, w, bias);
      for (unsigned threads : {1U, 3U}) {
        step.threads(threads).grain(1).blocks(2048);
        const auto [L, dW, db] = step(X = tensor<T>(x), Y = tensor<T>(y), W = tensor<T>(w), b = vector<T>(bias));
        INFO("N = " << n << ", call " << call << ", " << threads << " threads");
        CHECK(relative_error(static_cast<double>(L), want.loss) < tolerance<T>);
        CHECK(relative_error(dW, want.dW) < tolerance<T>);
        CHECK(relative_error(db, want.db) < tolerance<T>);
      }
    }
}

TEST_CASE_TEMPLATE("an MLP D → H tanh → C with cross-entropy: every gradient at every tail, in blocks and row by row",
                   T, float, double) {
  constexpr auto loss = cross_entropy(matmul(tanh(matmul(X, W1) + b1), W) + b, Y);
  auto step = compile(loss, grad(loss, W1), grad(loss, b1), grad(loss, W), grad(loss, b));
  unsigned seed = 100;
  for (std::size_t n : {1U, 7U, 33U, 257U})
    for (std::size_t hidden : {1U, 16U, 17U, 32U, 33U}) {
      const std::size_t d = 7, c = 10;
      for (int call = 0; call < 2; ++call, seed += 10) {
        const matrix x = rounded<T>(random_matrix(n, d, 1.0, seed)), y = one_hot(n, c, seed + 1);
        const matrix w1 = rounded<T>(random_matrix(d, hidden, 0.6, seed + 2));
        const matrix bias1 = rounded<T>(random_matrix(1, hidden, 0.3, seed + 3));
        const matrix w = rounded<T>(random_matrix(hidden, c, 0.6, seed + 4));
        const matrix bias = rounded<T>(random_matrix(1, c, 0.3, seed + 5));
        const mlp_reference want = mlp_by_hand(x, y, w1, bias1, w, bias);
        for (const configuration& setting : configurations) {
          step.threads(setting.threads).grain(1).blocks(setting.blocks ? decltype(step)::block_extent : 0);
          const auto [L, dW1, db1, dW, db] = step(X = tensor<T>(x), Y = tensor<T>(y), W1 = tensor<T>(w1),
                                                  b1 = vector<T>(bias1), W = tensor<T>(w), b = vector<T>(bias));
          INFO("N = " << n << ", H = " << hidden << ", call " << call << ", " << setting);
          CHECK(relative_error(static_cast<double>(L), want.loss) < tolerance<T>);
          CHECK(relative_error(dW1, want.dW1) < tolerance<T>);
          CHECK(relative_error(db1, want.db1) < tolerance<T>);
          CHECK(relative_error(dW, want.dW) < tolerance<T>);
          CHECK(relative_error(db, want.db) < tolerance<T>);
        }
      }
    }
}

// The register tiles block mode runs a program's two-level nests as, counted the way
// cpu/interpreter.hpp's block_range chooses them.
struct tile_counts {
  int contractions = 0, rank_updates = 0, dots = 0;
};
template <class Interpreter>
constexpr std::array<int, Interpreter::code_size> rows_class = [] {  // each instruction's top-level class
  std::array<int, Interpreter::code_size> classes{};
  int rows = -1;
  for (std::size_t i = 0; i < Interpreter::code_size; ++i) {
    const ir::instruction& ins = Interpreter::code(static_cast<int>(i));
    if (ins.op == ir::instr::enter && ins.depth == 0) rows = ins.cls;
    classes[i] = rows;
  }
  return classes;
}();
template <class Interpreter, int I>
constexpr void count_tile(tile_counts& counts) {
  if constexpr (Interpreter::code(I).op == ir::instr::enter && Interpreter::code(I).depth > 0) {
    constexpr int rows = rows_class<Interpreter>[static_cast<std::size_t>(I)];
    if constexpr (Interpreter::contraction(I) >= 0)
      ++counts.contractions;
    else if constexpr (Interpreter::rank_update(I, rows) >= 0)
      ++counts.rank_updates;
    else if constexpr (Interpreter::template dot_tiled<I, rows>())
      ++counts.dots;
  }
}
template <class Interpreter, int... I>
constexpr tile_counts count_tiles(std::integer_sequence<int, I...>) {
  tile_counts counts;
  (count_tile<Interpreter, I>(counts), ...);
  return counts;
}
template <class... Outputs>
constexpr tile_counts tiles_of(Outputs...) {
  using interpreter = cpu::interpreter<kobai::detail::key_of<Outputs...>>;
  return count_tiles<interpreter>(std::make_integer_sequence<int, static_cast<int>(interpreter::code_size)>{});
}

TEST_CASE("the contractions of a classifier's and an MLP's steps run as register tiles in block mode") {
  constexpr auto classifier = cross_entropy(matmul(X, W) + b, Y);
  constexpr auto mlp = cross_entropy(matmul(tanh(matmul(X, W1) + b1), W) + b, Y);
  // the logits x·W (per row a sum over d for each class) and the weight gradient dW += xᵀ·dz
  constexpr tile_counts linear = tiles_of(classifier, grad(classifier, W), grad(classifier, b));
  CHECK(linear.contractions == 1);
  CHECK(linear.rank_updates == 1);
  CHECK(linear.dots == 0);
  // forward x·W1 and h·W; backward dz·Wᵀ through the output layer (a dot nest: for each hidden unit
  // a sum over the classes); the updates of dW1 and dW
  constexpr tile_counts two_layers = tiles_of(mlp, grad(mlp, W1), grad(mlp, b1), grad(mlp, W), grad(mlp, b));
  CHECK(two_layers.contractions == 2);
  CHECK(two_layers.rank_updates == 2);
  CHECK(two_layers.dots == 1);
  // the loss alone: only the forward contractions
  constexpr tile_counts forward = tiles_of(mlp);
  CHECK(forward.contractions == 2);
  CHECK(forward.rank_updates + forward.dots == 0);
}
