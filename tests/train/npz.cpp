// .npz checkpoints (train/npz.hpp): a round trip, refusals that name the array, and a file that
// NumPy reads (checked with python3 when NumPy is installed; skipped with a message otherwise).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <xtensor/xtensor.hpp>

#include "kobai/train.hpp"
#include "python.hpp"

using kobai::train::npz_archive;

namespace {
std::string temporary(const std::string& name) { return std::string(P_tmpdir) + "/kobai_test_" + name; }
}  // namespace

TEST_CASE("an archive round-trips parameters of every rank and element type") {
  const std::string path = temporary("round_trip.npz");
  const xt::xtensor<double, 2> W = {{1.25, -2.5, 3}, {4, 5, 6.125}};
  const xt::xtensor<float, 1> b = {0.5f, -0.25f, 1e-7f};
  const xt::xtensor<std::int64_t, 1> steps = {50};
  npz_archive out;
  out.put("W", W);
  out.put("b", b);
  out.put("steps", steps);
  out.save(path);
  const npz_archive in = npz_archive::load(path);
  CHECK(in.contains("W"));
  CHECK(!in.contains("W2"));
  CHECK(in.get<double, 2>("W") == W);
  CHECK(in.get<float, 1>("b") == b);
  CHECK(in.get<std::int64_t, 1>("steps")(0) == 50);
  xt::xtensor<double, 2> into = xt::zeros<double>({2, 3});
  in.get_into("W", into);
  CHECK(into == W);
  xt::xtensor<double, 2> other = xt::zeros<double>({3, 2});
  CHECK_THROWS_WITH_AS(in.get_into("W", other),
                       "kobai::train::npz_archive: 'W' is (2, 3) in the archive but (3, 2) here", kobai::shape_error);
  CHECK_THROWS_AS(static_cast<void>(in.get<double, 1>("W")), kobai::error);     // rank
  CHECK_THROWS_AS(static_cast<void>(in.get<float, 2>("W")), kobai::error);      // element type
  CHECK_THROWS_AS(static_cast<void>(in.get<double, 2>("none")), kobai::error);  // name
  std::remove(path.c_str());
}

TEST_CASE("a damaged or missing archive is an error that names it") {
  CHECK_THROWS_AS(npz_archive::load("/nonexistent/kobai.npz"), kobai::error);
  const std::string path = temporary("damaged.npz");
  npz_archive out;
  out.put("W", xt::xtensor<double, 1>{1, 2, 3});
  out.save(path);
  std::string bytes;
  {
    std::ifstream file(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  bytes[bytes.size() / 3] = static_cast<char>(bytes[bytes.size() / 3] ^ 0x55);  // a flipped byte in the data
  std::ofstream(path, std::ios::binary) << bytes;
  CHECK_THROWS_AS(npz_archive::load(path), kobai::error);
  std::ofstream(path, std::ios::binary) << "not a zip";
  CHECK_THROWS_AS(npz_archive::load(path), kobai::error);
  std::remove(path.c_str());
}

TEST_CASE("numpy.load reads kobai's archive, and kobai reads numpy.savez's") {
  const std::string python = python_with_numpy();
  if (python.empty()) {
    MESSAGE("NumPy is not installed for python3: the NumPy round trip is skipped");
    return;
  }
  const std::string ours = temporary("for_numpy.npz"), theirs = temporary("from_numpy.npz");
  npz_archive out;
  out.put("W", xt::xtensor<double, 2>{{1.25, -2.5, 3}, {4, 5, 6.125}});
  out.put("b", xt::xtensor<float, 1>{0.5f, -0.25f});
  out.save(ours);
  const std::string check =
      python + " -c \"import numpy as np; d = np.load('" + ours +
      "'); assert d['W'].shape == (2, 3) and d['W'][1, 2] == 6.125 and d['W'].dtype == np.float64; "
      "assert d['b'].dtype == np.float32 and d['b'][1] == -0.25; "
      "np.savez('" +
      theirs + "', X=np.arange(6.0).reshape(3, 2), n=np.int64(7))\"";
  REQUIRE(std::system(check.c_str()) == 0);
  const npz_archive in = npz_archive::load(theirs);
  const auto X = in.get<double, 2>("X");
  CHECK(X.shape(0) == 3);
  CHECK(X(2, 1) == 5.0);
  std::remove(ours.c_str());
  std::remove(theirs.c_str());
}
