// Data for training (train/data.hpp): CSV and .npy files, and minibatches that bind to a compiled
// step without a copy, checked against the rows they stand for.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"
#include "kobai/train.hpp"

using namespace kobai;

namespace {

// A file under the system's temporary folder, removed at the end of the test.
struct temporary_file {
  std::string path;
  explicit temporary_file(const std::string& name, const std::string& text = "")
      : path(std::string(P_tmpdir) + "/kobai_test_" + name) {
    if (!text.empty()) std::ofstream(path) << text;
  }
  ~temporary_file() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("load_csv splits the target columns from the features, in file order") {
  const temporary_file csv("data.csv",
                           "a,b,label,c\n"
                           "1.5,2,0,-3e-1\n"
                           "# a comment line\n"
                           "4,5.25,1,6\n"
                           "-7,8,1,9\n");
  const auto data = train::load_csv<double>(csv.path, {2});
  REQUIRE(data.size() == 3);
  REQUIRE(data.features.shape(1) == 3);
  REQUIRE(data.targets.shape(1) == 1);
  const double features[3][3] = {{1.5, 2, -0.3}, {4, 5.25, 6}, {-7, 8, 9}};
  const double labels[3] = {0, 1, 1};
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t c = 0; c < 3; ++c) CHECK(data.features(r, c) == features[r][c]);
    CHECK(data.targets(r, 0) == labels[r]);
  }
  const auto two = train::load_csv<float>(csv.path, {3, 0});  // several targets, in the order given
  CHECK(two.features.shape(1) == 2);
  CHECK(two.targets(2, 0) == 9.0f);
  CHECK(two.targets(2, 1) == -7.0f);
}

TEST_CASE("a CSV file kobai cannot read is an error that names it") {
  CHECK_THROWS_AS(train::load_csv<double>("/nonexistent/kobai.csv", {0}), kobai::error);
  const temporary_file ragged("ragged.csv", "x,y\n1,2\n3\n4,5\n");
  CHECK_THROWS_WITH_AS(
      train::load_csv<double>(ragged.path, {1}),
      ("kobai::train::load_csv: '" + ragged.path + "' line 3 has 1 cells, the first data row 2").c_str(), kobai::error);
  const temporary_file words("words.csv", "x,y\n1,2\n1,two\n");
  CHECK_THROWS_WITH_AS(train::load_csv<double>(words.path, {1}),
                       ("kobai::train::load_csv: '" + words.path + "' line 3 column 2 is not a number").c_str(),
                       kobai::error);
  const temporary_file fine("fine.csv", "x,y\n1,2\n");
  CHECK_THROWS_AS(train::load_csv<double>(fine.path, {2}), kobai::error);  // no column 2
}

TEST_CASE("load_npy reads NumPy's files of any common element type into the requested one") {
  const temporary_file doubles("doubles.npy"), ints("ints.npy");
  const xt::xtensor<double, 2> written = {{1.25, -2.5, 3}, {4, 5, 6.125}};
  xt::dump_npy(doubles.path, written);
  const auto read = train::load_npy<double, 2>(doubles.path);
  REQUIRE(read.shape() == written.shape());
  for (std::size_t i = 0; i < written.size(); ++i) CHECK(read.data()[i] == written.data()[i]);
  const auto as_float = train::load_npy<float, 2>(doubles.path);  // converted
  CHECK(as_float(1, 2) == 6.125f);
  const xt::xtensor<std::int64_t, 1> labels = {3, 1, 2};
  xt::dump_npy(ints.path, labels);
  const auto read_labels = train::load_npy<double, 1>(ints.path);
  CHECK(read_labels(0) == 3.0);
  CHECK(read_labels(2) == 2.0);
  CHECK_THROWS_AS((train::load_npy<double, 1>(doubles.path)), kobai::error);  // rank 2, not 1
  CHECK_THROWS_AS((train::load_npy<double, 2>("/nonexistent/kobai.npy")), kobai::error);
}

TEST_CASE("minibatches cover every row once per epoch, in an order fixed by the seed") {
  train::dataset<double> data{xt::xtensor<double, 2>::from_shape({10, 2}), xt::xtensor<double, 2>::from_shape({10, 1})};
  for (std::size_t r = 0; r < 10; ++r) {
    data.features(r, 0) = static_cast<double>(r);
    data.features(r, 1) = 100.0 + static_cast<double>(r);
    data.targets(r, 0) = -static_cast<double>(r);
  }
  train::minibatches<double> batches(data, 4, 42), again(data, 4, 42), other(data, 4, 7);
  REQUIRE(batches.count() == 3);
  CHECK(batches.order() == again.order());
  CHECK(batches.order() != other.order());
  std::vector<std::size_t> first_epoch = batches.order();
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::multiset<std::size_t> seen;
    std::size_t position = 0;
    for (std::size_t k = 0; k < batches.count(); ++k) {
      const auto batch = batches[k];
      CHECK(batch.rows == (k < 2 ? 4U : 2U));  // the last, short batch
      CHECK(batch.features.shape(0) == batch.rows);
      for (std::size_t r = 0; r < batch.rows; ++r, ++position) {
        const std::size_t row = batches.order()[position];
        seen.insert(row);
        CHECK(batch.features(r, 0) == data.features(row, 0));
        CHECK(batch.features(r, 1) == data.features(row, 1));
        CHECK(batch.targets(r, 0) == data.targets(row, 0));
      }
    }
    CHECK(seen.size() == 10);
    CHECK(std::set<std::size_t>(seen.begin(), seen.end()).size() == 10);
    batches.next_epoch();
  }
  CHECK(batches.epoch() == 2);
  CHECK(batches.order() != first_epoch);  // a new order each epoch
  train::minibatches<double> in_order(data, 3, 0, false);
  CHECK(in_order.order() == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK_THROWS_AS(train::minibatches<double>(data, 0, 1), kobai::error);
  CHECK_THROWS_AS(static_cast<void>(in_order[4]), kobai::error);
}

TEST_CASE("a batch binds to a compiled step and gives the loss and gradient of the rows it holds") {
  constexpr auto X = input<"X", 2>;
  constexpr auto y = input<"y", 2>;
  constexpr auto w = var<"w", 2>;
  constexpr auto loss = mean(pow<2>(matmul(X, w) - y));
  const auto step = compile(loss, grad(loss, w));
  train::dataset<double> data{xt::xtensor<double, 2>::from_shape({7, 3}), xt::xtensor<double, 2>::from_shape({7, 1})};
  for (std::size_t r = 0; r < 7; ++r) {
    for (std::size_t c = 0; c < 3; ++c) data.features(r, c) = std::sin(static_cast<double>(3 * r + c));
    data.targets(r, 0) = std::cos(static_cast<double>(r));
  }
  const xt::xtensor<double, 2> weights = {{0.5}, {-1.0}, {0.25}};
  train::minibatches<double> batches(data, 3, 5);
  std::size_t position = 0;
  for (std::size_t k = 0; k < batches.count(); ++k) {  // a new batch (new data) on every call
    const auto batch = batches[k];
    const auto [L, dw] = step(X = batch.features, y = batch.targets, w = weights);
    // the same by hand over the batch's rows of the data set
    double want = 0;
    double want_dw[3] = {0, 0, 0};
    for (std::size_t r = 0; r < batch.rows; ++r) {
      const std::size_t row = batches.order()[position + r];
      double z = -data.targets(row, 0);
      for (std::size_t c = 0; c < 3; ++c) z += data.features(row, c) * weights(c, 0);
      want += z * z / static_cast<double>(batch.rows);
      for (std::size_t c = 0; c < 3; ++c) want_dw[c] += 2 * z * data.features(row, c) / static_cast<double>(batch.rows);
    }
    position += batch.rows;
    INFO("batch " << k << " of " << batch.rows << " rows");
    CHECK(static_cast<double>(L) == doctest::Approx(want).epsilon(1e-12));
    for (std::size_t c = 0; c < 3; ++c) CHECK(dw(c, 0) == doctest::Approx(want_dw[c]).epsilon(1e-12));
  }
}

TEST_CASE("split holds out the last rows of a seeded order; one_hot and standard_scaler as scikit-learn's") {
  train::dataset<double> data{xt::xtensor<double, 2>::from_shape({10, 2}), xt::xtensor<double, 2>::from_shape({10, 1})};
  for (std::size_t r = 0; r < 10; ++r) {
    data.features(r, 0) = static_cast<double>(r);
    data.features(r, 1) = 7;  // a constant column
    data.targets(r, 0) = static_cast<double>(r % 3);
  }
  const auto [training, held_out] = train::split(data, 0.25, 9);
  REQUIRE(training.size() == 7);  // ⌈2.5⌉ = 3 held out
  REQUIRE(held_out.size() == 3);
  std::vector<int> seen(10, 0);
  for (const auto* part : {&training, &held_out})
    for (std::size_t r = 0; r < part->size(); ++r) {
      const auto row = static_cast<std::size_t>(part->features(r, 0));
      ++seen[row];
      CHECK(part->targets(r, 0) == static_cast<double>(row % 3));  // targets travel with their rows
    }
  CHECK(std::count(seen.begin(), seen.end(), 1) == 10);
  const auto [again, again_held] = train::split(data, 0.25, 9);
  CHECK(again_held.features == held_out.features);
  CHECK_THROWS_AS(train::split(data, 1.0, 9), kobai::error);

  const auto hot = train::one_hot(data.targets, 3);
  REQUIRE(hot.shape(1) == 3);
  for (std::size_t r = 0; r < 10; ++r)
    for (std::size_t c = 0; c < 3; ++c) CHECK(hot(r, c) == (c == r % 3 ? 1.0 : 0.0));
  auto bad = data.targets;
  bad(4, 0) = 3;
  CHECK_THROWS_WITH_AS(train::one_hot(bad, 3), "kobai::train::one_hot: row 4's label is not a class index in [0, 3)",
                       kobai::error);
  bad(4, 0) = 1.5;
  CHECK_THROWS_AS(train::one_hot(bad, 3), kobai::error);

  // mean 4.5 and population deviation √8.25 for 0…9; a constant column keeps scale 1
  const auto scaler = train::standard_scaler<double>::fit(data.features);
  CHECK(scaler.mean(0) == doctest::Approx(4.5));
  CHECK(scaler.scale(0) == doctest::Approx(std::sqrt(8.25)));
  CHECK(scaler.scale(1) == 1.0);
  auto scaled = data.features;
  scaler.apply(scaled);
  CHECK(scaled(9, 0) == doctest::Approx(4.5 / std::sqrt(8.25)));
  CHECK(scaled(3, 1) == 0.0);
}
