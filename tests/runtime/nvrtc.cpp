// NVRTC compiles every generated kernel to machine code for sm_80 and sm_90, with no GPU needed;
// a broken source fails with NVRTC's log and the path of the written source.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "../codegen/programs.hpp"
#include "kobai/codegen/cuda.hpp"
#include "kobai/runtime/nvrtc.hpp"

using namespace test_programs;

namespace {

bool skip_without_nvrtc() {
  const auto& nvrtc = runtime::nvrtc::instance();
  if (!nvrtc.available()) MESSAGE("skipped: " << nvrtc.why());
  return !nvrtc.available();
}

void compiles_to_cubin(const codegen::cuda_program& program, const std::string& name) {
  for (int arch : {80, 90}) {
    INFO(name << " for sm_" << arch);
    const auto binary = runtime::nvrtc::instance().compile(program.source, name, arch);
    CHECK(binary.is_cubin);
    REQUIRE(binary.image.size() > 4);
    CHECK(binary.image[0] == 0x7f);  // an ELF image: machine code for that architecture
    CHECK(std::string(binary.image.data() + 1, 3) == "ELF");
  }
}

}  // namespace

TEST_CASE("the examples' programs compile to CUBIN for sm_80 and sm_90") {
  if (skip_without_nvrtc()) return;
  const auto [dw, db] = grad(mse_loss, w, b);
  compiles_to_cubin(codegen::render<float>(mse_loss, dw, db), "linear_regression_step");
  compiles_to_cubin(codegen::render<double>(bce_loss, grad(bce_loss, w), grad(bce_loss, b)), "logistic_step");
  compiles_to_cubin(codegen::render<double>(variance, x - mean(x)), "variance");
  const auto d1 = vjp(polynomial, X, 1_c);
  compiles_to_cubin(codegen::render<double>(d1, vjp(d1, X, 1_c)), "derivatives");
  compiles_to_cubin(codegen::render<float>(logsumexp(X), grad(logsumexp(X), X), max(X), min(X)), "reductions");
  constexpr auto k = input<"k">;
  constexpr auto v = input<"v", 1>;
  compiles_to_cubin(codegen::render<double>(X * pow(2_c, k), vjp(X * pow(2_c, k), X, v)), "autograd_basics_vjp");
  constexpr auto all_ops = sin(X) * cos(X) + tan(X) - tanh(X) + sigmoid(X) + softplus(X) + relu(X) + abs(X) + sign(X) +
                           clamp(X, -1_c, 1_c) + max(X, x) + min(X, x) + log1p(abs(X)) + expm1(X) + sqrt(abs(X)) +
                           pow<1, 3>(abs(X) + 1_c) + pow(abs(X) + 1_c, x) + detach(X);
  compiles_to_cubin(codegen::render<float>(all_ops, grad(sum(all_ops), X)), "every_op");
}

TEST_CASE("loop nests, views and axis reductions compile to CUBIN for sm_80 and sm_90") {
  if (skip_without_nvrtc()) return;
  constexpr auto A = input<"A", 2>;
  constexpr auto W = var<"W", 1>;
  constexpr auto W1 = var<"W1", 2>;
  constexpr auto b1 = var<"b1", 1>;
  constexpr auto logistic = bce_with_logits(matmul(A, W) + b, t);
  compiles_to_cubin(codegen::render<float>(logistic, grad(logistic, W), grad(logistic, b)), "logistic_rows");
  constexpr auto net = mse(matmul(tanh(matmul(A, W1) + b1), W) + b, t);
  compiles_to_cubin(codegen::render<float>(net, grad(net, W1), grad(net, b1), grad(net, W), grad(net, b)), "mlp");
  constexpr auto Z = var<"Z", 2>;
  constexpr auto ce = cross_entropy(Z, A);
  compiles_to_cubin(codegen::render<double>(ce, grad(ce, Z), mean<0>(Z, keepdims), max<1>(Z)), "cross_entropy");
  constexpr auto f = dot(flatten(exp(A)), X);
  compiles_to_cubin(codegen::render<double>(f, grad(f, X)), "flatten");
  compiles_to_cubin(codegen::render<float>(w * w + b), "scalars_only");
  constexpr auto V = var<"V", 2>;  // examples/one_layer_bce: a (5) input through a (5, 3) layer
  constexpr auto bias = var<"bias", 1>;
  constexpr auto bce = bce_with_logits(matmul(x, V) + bias, t);
  compiles_to_cubin(codegen::render<float>(bce, grad(bce, V), grad(bce, bias)), "one_layer_bce");
  constexpr auto z = matmul(A, W);  // a per-row value owned by its thread, read by a later loop
  compiles_to_cubin(codegen::render<float>(mean(z), z - mean(z)), "owned_rows");
}

TEST_CASE("a failing compile carries NVRTC's log and where the source was written") {
  if (skip_without_nvrtc()) return;
  try {
    (void)runtime::nvrtc::instance().compile("this is not CUDA", "broken", 90);
    FAIL("NVRTC accepted invalid source");
  } catch (const kobai::compile_error& e) {
    CHECK(e.log.find("error") != std::string::npos);
    CHECK(std::filesystem::exists(e.source_path));
    CHECK(std::string(e.what()).find(e.source_path) != std::string::npos);
  }
}

TEST_CASE("NVRTC reports its version and architectures") {
  if (skip_without_nvrtc()) return;
  const auto& nvrtc = runtime::nvrtc::instance();
  CHECK(nvrtc.version() >= 11020);
  CHECK(nvrtc.supports(80));
}

TEST_CASE("an architecture newer than NVRTC knows gets PTX it can JIT; one older than it supports is an error") {
  if (skip_without_nvrtc()) return;
  const auto& nvrtc = runtime::nvrtc::instance();
  const auto [dw, db] = grad(mse_loss, w, b);
  const auto source = codegen::render<float>(mse_loss, dw, db).source;
  const auto ptx = nvrtc.compile(source, "future", 990);  // sm_990: no NVRTC knows it
  CHECK_FALSE(ptx.is_cubin);
  CHECK(std::string(ptx.image.data(), ptx.image.size()).find(".entry kobai_loop_0") != std::string::npos);
  CHECK_THROWS_WITH_AS((void)nvrtc.compile(source, "ancient", 10), doctest::Contains("cannot compile for sm_10"),
                       kobai::error);
}
