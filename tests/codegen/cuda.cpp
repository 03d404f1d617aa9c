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
  REQUIRE(step.kernels.size() == 2);  // one fused loop (loss, dL/dw, dL/db) and the fold of its partials
  CHECK(step.kernels[0].name == "kobai_loop_0");
  CHECK(step.kernels[1].name == "kobai_loop_0_finish");
  CHECK(step.kernels[1].finish);
  CHECK(step.source.find("#include") == std::string::npos);
  CHECK(step.source.find("extern \"C\" __global__ void kobai_loop_0(const kobai_args a)") != std::string::npos);
  CHECK(step.source.find("i0 += kobai_threads") != std::string::npos);  // grid-stride
  CHECK(step.source.find("__shfl_down_sync") != std::string::npos);
  CHECK(step.source.find("kobai_block_fold(g") != std::string::npos);  // register accumulators, block-folded

  const auto two = codegen::render<double>(variance, x - mean(x));
  REQUIRE(two.kernels.size() == 4);  // the mean, then the centred values and the variance
  CHECK(two.source.find("a.out1[i0] = ") != std::string::npos);
}

TEST_CASE("loop nests: inner loops per thread, local reductions in registers, vectors per thread") {
  constexpr auto X2 = input<"X", 2>;
  constexpr auto W = var<"W", 1>;
  constexpr auto loss = bce_with_logits(matmul(X2, W) + b, t);
  const auto step = codegen::render<float>(loss, grad(loss, W), grad(loss, b));
  REQUIRE(step.kernels.size() == 2);  // still one pass over the rows
  // z = X·W for one row: a register accumulator over an inner loop, in the row's iteration
  CHECK(step.source.find("for (long long i1 = 0; i1 < a.e1; ++i1) {") != std::string::npos);
  CHECK(step.source.find("float l") != std::string::npos);
  // dL/dW has a class of its own: accumulated per thread, folded element by element
  CHECK(step.source.find("a.accumulators[(a.b") != std::string::npos);
}

TEST_CASE("run-time values are parameters, never literals in the source") {
  // The same program for any N, learning rate or data: nothing bound at run time appears in the
  // text, so one compiled kernel serves every size and value.
  const auto [dw, db] = grad(mse_loss, w, b);
  const auto source = codegen::render<float>(mse_loss, dw, db).source;
  CHECK(source.find("  double s3_b;\n  double s4_w;\n") != std::string::npos);  // w and b arrive as fields
  CHECK(source.find("  long long e0;\n") != std::string::npos);                 // so does N
  CHECK(source.find("ipow_(float(r") != std::string::npos);                     // 1/N is computed from it, in T
  CHECK(codegen::render<float>(mse(w * x + b, t)).source == codegen::render<float>(mse(w * x + b, t)).source);
}
