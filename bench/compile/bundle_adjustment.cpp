// Bundle-adjustment residuals with their full Jacobian, per observation: rotate a 3-D point by an
// axis-angle vector (Rodrigues), project it, apply radial distortion and weight the residual, as
// in ADBench's BA. The 15 inputs of one observation (camera rotation r, centre C, focal length f,
// principal point x0, distortion k, the point X and the weight w) are rank-1 leaves over the
// observations; the program computes the 2 residuals and all 2×15 partial derivatives in one
// compile: about 100 distinct forward nodes, 32 outputs. A compile-cost benchmark (bench/compile).
#include <cstdio>
#include <tuple>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

namespace ba {
using namespace kobai;
using namespace kobai::literals;
constexpr auto r0 = var<"r0", 1>;
constexpr auto r1 = var<"r1", 1>;
constexpr auto r2 = var<"r2", 1>;
constexpr auto c0 = var<"c0", 1>;
constexpr auto c1 = var<"c1", 1>;
constexpr auto c2 = var<"c2", 1>;
constexpr auto f = var<"f", 1>;
constexpr auto u0 = var<"u0", 1>;
constexpr auto v0 = var<"v0", 1>;
constexpr auto k1 = var<"k1", 1>;
constexpr auto k2 = var<"k2", 1>;
constexpr auto p0 = var<"p0", 1>;
constexpr auto p1 = var<"p1", 1>;
constexpr auto p2 = var<"p2", 1>;
constexpr auto w = var<"w", 1>;
constexpr auto fu = input<"fu", 1>;  // the observed feature
constexpr auto fv = input<"fv", 1>;

constexpr auto theta = sqrt(r0 * r0 + r1 * r1 + r2 * r2);
constexpr auto n0 = r0 / theta;  // the rotation axis
constexpr auto n1 = r1 / theta;
constexpr auto n2 = r2 / theta;
constexpr auto y0 = p0 - c0;
constexpr auto y1 = p1 - c1;
constexpr auto y2 = p2 - c2;
constexpr auto cs = cos(theta);
constexpr auto sn = sin(theta);
constexpr auto along = (n0 * y0 + n1 * y1 + n2 * y2) * (1_c - cs);
constexpr auto x_cam = y0 * cs + (n1 * y2 - n2 * y1) * sn + n0 * along;
constexpr auto y_cam = y1 * cs + (n2 * y0 - n0 * y2) * sn + n1 * along;
constexpr auto z_cam = y2 * cs + (n0 * y1 - n1 * y0) * sn + n2 * along;
constexpr auto u = -x_cam / z_cam;
constexpr auto v = -y_cam / z_cam;
constexpr auto rsq = u * u + v * v;
constexpr auto distortion = 1_c + k1 * rsq + k2 * rsq * rsq;
constexpr auto eu = w * (f * distortion * u + u0 - fu);
constexpr auto ev = w * (f * distortion * v + v0 - fv);
constexpr auto parameters = std::tuple{r0, r1, r2, c0, c1, c2, f, u0, v0, k1, k2, p0, p1, p2, w};
constexpr auto du = vjp(eu, parameters, 1_c);
constexpr auto dv = vjp(ev, parameters, 1_c);
}  // namespace ba

int main() {
  using namespace ba;
  const auto program =
      std::apply([](auto... partials) { return kobai::compile(eu, ev, partials...); }, std::tuple_cat(du, dv));
  const std::size_t n = 1000;
  const auto column = [n](double base, double step) {
    xt::xtensor<double, 1> values = xt::empty<double>({n});
    for (std::size_t i = 0; i < n; ++i) values(i) = base + step * static_cast<double>(i % 17);
    return values;
  };
  const auto results =
      program(r0 = column(0.1, 0.01), r1 = column(-0.2, 0.005), r2 = column(0.3, -0.01), c0 = column(0.5, 0.02),
              c1 = column(-0.4, 0.01), c2 = column(-5, 0.1), f = column(500, 1), u0 = column(1, 0.1),
              v0 = column(-1, 0.1), k1 = column(1e-3, 0), k2 = column(1e-6, 0), p0 = column(1, 0.1),
              p1 = column(2, -0.1), p2 = column(3, 0.05), w = column(1, 0.01), fu = column(10, 1), fv = column(-10, 1));
  double checksum = 0;
  std::apply([&](const auto&... output) { ((checksum += output(0)), ...); }, results);
  std::printf("bundle adjustment: %zu outputs, checksum %.6g\n",
              std::tuple_size_v<std::remove_cvref_t<decltype(results)>>, checksum);
  return 0;
}
