// A traced function returns one value: a std::array result is one error, not several.
// expect: kobai::trace: the function must return a value of its argument type, or a number
#include <array>
#include <kobai/kobai.hpp>
int main() {
  constexpr auto f = kobai::trace([](auto a) { return std::array{a, a * a}; }, kobai::var<"x">);
  (void)f;
}
