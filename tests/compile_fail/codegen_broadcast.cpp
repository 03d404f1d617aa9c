// The CUDA renderer handles programs over one shape; a broadcast program is refused at compile
// time rather than rendered with wrong indexing.
// expect: kobai::codegen: CUDA generation covers programs over one shape
#include <kobai/codegen/cuda.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto X = input<"X", 2>;
  constexpr auto w = var<"w", 1>;
  auto source = codegen::render<float>(sum(X * w));
  (void)source;
}
