// The CUDA renderer: golden sources, and the shape of what it emits.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "kobai/codegen/cuda.hpp"
#include "programs.hpp"

using namespace test_programs;

namespace {

// Compares with tests/codegen/golden/<name>.cu; KOBAI_REGENERATE_GOLDEN=1 rewrites the file instead
// (scripts/regenerate-golden).
void check_golden(const std::string& name, const std::string& source) {
  const std::string path = std::string(KOBAI_GOLDEN_DIR) + "/" + name + ".cu";
  if (std::getenv("KOBAI_REGENERATE_GOLDEN") != nullptr) {
    std::ofstream(path) << source;
    MESSAGE("regenerated " << path);
    return;
  }
  std::ifstream file(path);
  REQUIRE_MESSAGE(file.good(), "missing golden file " << path << "; run scripts/regenerate-golden");
  std::stringstream golden;
  golden << file.rdbuf();
  CHECK_MESSAGE(golden.str() == source,
                "generated CUDA differs from " << path << "; if intended, run scripts/regenerate-golden");
}

}  // namespace

TEST_CASE("golden: the linear-regression step (float) and mean-centred variance (double)") {
  const auto [dw, db] = grad(mse_loss, w, b);
  check_golden("mse_step_float", codegen::render<float>(mse_loss, dw, db).source);
  check_golden("variance_double", codegen::render<double>(variance, x - mean(x)).source);
}

TEST_CASE("one extern \"C\" kernel per loop, reductions with a finishing kernel, no #include") {
  const auto [dw, db] = grad(mse_loss, w, b);
  const auto step = codegen::render<float>(mse_loss, dw, db);
  REQUIRE(step.kernels.size() == 1);  // one fused loop: loss, dL/dw and dL/db
  CHECK(step.kernels[0].reductions.size() == 3);
  CHECK(step.kernels[0].outputs.empty());
  CHECK(step.source.find("#include") == std::string::npos);
  CHECK(step.source.find("extern \"C\" __global__ void kobai_loop_0(") != std::string::npos);
  CHECK(step.source.find("extern \"C\" __global__ void kobai_loop_0_finish(") != std::string::npos);
  CHECK(step.source.find("for (unsigned long long i = blockIdx.x") != std::string::npos);  // grid-stride
  CHECK(step.source.find("__shfl_down_sync") != std::string::npos);

  const auto two = codegen::render<double>(variance, x - mean(x));
  REQUIRE(two.kernels.size() == 2);
  CHECK(two.kernels[1].outputs.size() == 1);  // x − mean(x) is stored by the second loop
}

TEST_CASE("run-time values are parameters, never literals in the source") {
  // The same program for any N, learning rate or data: nothing bound at run time appears in the
  // text, so one compiled kernel serves every size and value.
  const auto [dw, db] = grad(mse_loss, w, b);
  const auto source = codegen::render<float>(mse_loss, dw, db).source;
  CHECK(source.find("scalars[") != std::string::npos);               // w, b, 1/N arrive here
  CHECK(source.find("unsigned long long n)") != std::string::npos);  // N is a parameter
  CHECK(codegen::render<float>(mse(w * x + b, t)).source == codegen::render<float>(mse(w * x + b, t)).source);
}
