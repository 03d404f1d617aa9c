// derivatives: d/dx and d²/dx² of a polynomial on a grid, and ∂z/∂X, ∂z/∂Y on a meshgrid.
// --json prints one JSON object; --dot FILE writes the DOT graph of z and of its gradient.
#include <cstdio>
#include <fstream>

#include "common.hpp"
#include "derivatives.hpp"

int main(int argc, char** argv) {
  return example::run(argc, argv, [](int argc, char** argv) {
    const auto r = example::derivatives::compute();
    bool dot_wanted = false;
    const std::string dot_file = example::option(argc, argv, "--dot", &dot_wanted);
    if (dot_wanted) {
      std::ofstream(dot_file) << r.dot;
      std::fprintf(stderr, "wrote %s\n", dot_file.c_str());
    }
    if (example::wants_json(argc, argv)) {
      example::json_object out;
      out.add("poly_d1", r.poly_d1);
      out.add("poly_d2", r.poly_d2);
      out.add("mesh_zx_sum", r.mesh_zx_sum);
      out.add("mesh_zy_sum", r.mesh_zy_sum);
      out.add("mesh_zx_first_last", r.mesh_zx_first_last);
      out.add("mesh_zy_first_last", r.mesh_zy_first_last);
      std::printf("%s\n", out.str().c_str());
      return 0;
    }
    std::printf("y = x^3 + 2x^2 + 3x + 1 on linspace(0, 1, 100)\n");
    std::printf("  dy/dx    at 0, 0.5051.., 1: %g, %g, %g\n", r.poly_d1[0], r.poly_d1[50], r.poly_d1[99]);
    std::printf("  d2y/dx2  at 0, 0.5051.., 1: %g, %g, %g\n", r.poly_d2[0], r.poly_d2[50], r.poly_d2[99]);
    std::printf("z = X^2 Y + 2 X Y^3 on a 100x100 meshgrid\n");
    std::printf("  sum dz/dX = %.10g   first, last = %g, %g\n", r.mesh_zx_sum, r.mesh_zx_first_last[0],
                r.mesh_zx_first_last[1]);
    std::printf("  sum dz/dY = %.10g   first, last = %g, %g\n", r.mesh_zy_sum, r.mesh_zy_first_last[0],
                r.mesh_zy_first_last[1]);
    return 0;
  });
}
