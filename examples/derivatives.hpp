// Derivatives of a polynomial (first and second, by differentiating twice) and the partial
// derivatives of z = X²Y + 2XY³ on a meshgrid: the computation, shared by the example and its test.
#pragma once

#include <string>
#include <vector>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

namespace example::derivatives {

struct results {
  std::vector<double> poly_d1, poly_d2;
  double mesh_zx_sum, mesh_zy_sum;
  std::vector<double> mesh_zx_first_last, mesh_zy_first_last;
  std::string dot;  // z and its gradient, Graphviz
};

inline results compute() {
  using namespace kobai;
  using namespace kobai::literals;
  results r{};

  // y = x³ + 2x² + 3x + 1, elementwise over linspace(0, 1, 100). Each yᵢ depends on xᵢ alone, so the
  // VJP with seed 1 is dy/dx at every point; doing it again gives d²y/dx².
  constexpr auto x = var<"x", 1>;
  constexpr auto y = pow<3>(x) + 2_c * pow<2>(x) + 3_c * x + 1_c;
  constexpr auto d1 = vjp(y, x, 1_c);
  constexpr auto d2 = vjp(d1, x, 1_c);
  static_assert(same(d2, 6_c * x + 4_c));
  const xt::xtensor<double, 1> points = xt::linspace<double>(0, 1, 100);
  const auto [first, second] = compile(d1, d2)(x = points);
  r.poly_d1.assign(first.begin(), first.end());
  r.poly_d2.assign(second.begin(), second.end());

  // z = X²Y + 2XY³ on an 'xy' meshgrid of x = linspace(0, 1, 100), y = linspace(2, 1, 100):
  // X varies along a row. xt::meshgrid is 'ij', so meshgrid(y, x) gives (Y, X).
  constexpr auto X = var<"X", 2>;
  constexpr auto Y = var<"Y", 2>;
  constexpr auto z = pow<2>(X) * Y + 2_c * X * pow<3>(Y);
  const auto [dzdx, dzdy] = vjp(z, std::tuple{X, Y}, 1_c);
  const auto [grid_y, grid_x] = xt::meshgrid(xt::linspace<double>(2, 1, 100), xt::linspace<double>(0, 1, 100));
  const xt::xtensor<double, 2> Xv = grid_x, Yv = grid_y;
  const auto [sum_x, sum_y, zx, zy] = compile(sum(dzdx), sum(dzdy), dzdx, dzdy)(X = Xv, Y = Yv);  // one loop
  r.mesh_zx_sum = sum_x;
  r.mesh_zy_sum = sum_y;
  r.mesh_zx_first_last = {zx.data()[0], zx.data()[zx.size() - 1]};
  r.mesh_zy_first_last = {zy.data()[0], zy.data()[zy.size() - 1]};
  r.dot = to_dot(z, dzdx, dzdy);
  return r;
}

}  // namespace example::derivatives
