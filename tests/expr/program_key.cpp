// key_of: the short name of a program's outputs that the CPU executor is instantiated over
// (expr/program_key.hpp). Distinct outputs get distinct keys, the same outputs the same key, and
// the key gives the outputs back; programs whose keys are made in two translation units
// (program_key_other.cpp) run as their own programs after linking.
#include <doctest/doctest.h>

#include <cstddef>
#include <type_traits>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/diff/grad.hpp"
#include "kobai/expr/literals.hpp"
#include "kobai/expr/operators.hpp"
#include "kobai/expr/program_key.hpp"
#include "program_key_other.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto w = var<"w">;
constexpr auto v = var<"v">;
constexpr auto x = input<"x", 1>;

template <class... Outputs>
using key = kobai::detail::key_of<std::remove_cvref_t<Outputs>...>;

template <class A, class B>
constexpr bool same_key = std::is_same_v<A, B>;
}  // namespace

TEST_CASE("a program's key names its outputs, in order, and gives them back") {
  using one = key<decltype(sum(w * x)), decltype(grad(sum(w * x), w))>;
  CHECK(same_key<one, key<decltype(sum(w * x)), decltype(grad(sum(w * x), w))>>);
  CHECK(std::is_same_v<kobai::detail::key_outputs<one>, type_list<std::remove_cvref_t<decltype(sum(w * x))>,
                                                                  std::remove_cvref_t<decltype(grad(sum(w * x), w))>>>);
  // the order of the outputs, a constant's value, a leaf's name or rank, an op: each a new key
  CHECK_FALSE(same_key<one, key<decltype(grad(sum(w * x), w)), decltype(sum(w * x))>>);
  CHECK_FALSE(same_key<key<decltype(x * 2_c)>, key<decltype(x * 3_c)>>);
  CHECK_FALSE(same_key<key<decltype(w * x)>, key<decltype(v * x)>>);
  CHECK_FALSE(same_key<key<decltype(x * w)>, key<decltype(input<"x", 2> * w)>>);
  CHECK_FALSE(same_key<key<decltype(exp(x))>, key<decltype(log(x))>>);
  CHECK_FALSE(same_key<key<decltype(sum(x))>, key<decltype(sum(x)), decltype(sum(x))>>);
  // the same arguments in the other order (node types written out: the simplifier orders a
  // product's factors): the hash is of the argument sequence
  using s = std::remove_cvref_t<decltype(sin(x))>;
  using e = std::remove_cvref_t<decltype(exp(x))>;
  CHECK_FALSE(std::is_same_v<node<ops::mul, s, e>, node<ops::mul, e, s>>);
  CHECK_FALSE(same_key<key<node<ops::mul, s, e>>, key<node<ops::mul, e, s>>>);
  CHECK_FALSE(same_key<key<s, e>, key<e, s>>);
}

TEST_CASE("programs of different outputs with keys made in two translation units run as themselves") {
  for (const double scale : {1.0, -2.5}) {  // the second run: new data
    xt::xtensor<double, 1> data = {1.0 * scale, 2.0, 3.0 * scale};
    // here: x·3 summed, and the program the other file also compiles (x·2 summed)
    const auto times_three = compile(sum(x * 3_c));
    const auto times_two = compile(sum(x * 2_c));
    const double total = data(0) + data(1) + data(2);
    CHECK(times_three(x = data) == doctest::Approx(3 * total));
    CHECK(times_two(x = data) == doctest::Approx(2 * total));
    // the other file: x·2 summed (the same program, shared), and x·5 summed (its own)
    CHECK(program_key_other::times_two(data) == doctest::Approx(2 * total));
    CHECK(program_key_other::times_five(data) == doctest::Approx(5 * total));
  }
}
