// Integer leaves are data: a differentiable integer leaf is refused where it is declared.
// expect: kobai: an integer leaf is a tensor input<> of std::int64_t or std::int32_t
#include <cstdint>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  constexpr auto w = leaf<"w", 1, role::variable, void, std::int64_t>{};
  (void)w;
}
