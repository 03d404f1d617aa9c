// Plans deeper than the compilers' constant-evaluation recursion limit (GCC's 512 nested calls; the
// planner once recursed twice per node of an elementwise chain, so a chain of 300 nodes failed to
// compile): it walks chains with its own stacks.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

namespace {
using namespace kobai;
using namespace kobai::literals;

constexpr auto x = input<"x", 1>;

// sin(sin(…sin(x)…)), K times: K + 1 distinct nodes in one chain. Built as a type: a constant
// evaluation of this recursion would itself pass the depth limit.
template <int K, class E>
constexpr auto sines(E e) {
  if constexpr (K == 0)
    return e;
  else
    return sines<K - 1>(sin(e));
}
constexpr int depth = 300;
constexpr decltype(sines<depth>(x)) chain{};
static_assert(node_count(chain) == depth + 1);

}  // namespace

TEST_CASE("a chain of 300 elementwise nodes is planned at compile time and computed like a loop") {
  const auto program = compile(chain, sum(chain));
  for (const std::size_t n : {5U, 17U}) {  // a second call with new data and a new extent
    xt::xtensor<double, 1> data = xt::zeros<double>({n});
    for (std::size_t i = 0; i < n; ++i) data(i) = 0.1 * static_cast<double>(i + 1) + (n == 17 ? 0.03 : 0.0);
    const auto [y, total] = program(x = data);
    double expected_total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      double v = data(i);
      for (int k = 0; k < depth; ++k) v = std::sin(v);
      CHECK(y(i) == doctest::Approx(v).epsilon(1e-12));
      expected_total += v;
    }
    CHECK(total == doctest::Approx(expected_total).epsilon(1e-12));
  }
}
