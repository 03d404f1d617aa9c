// A function object with members: trace calls a default-constructed one at compile time, so the
// members would be lost; it is refused, naming input<> leaves for run-time parameters.
// expect: kobai::trace: the function must be a captureless lambda or an empty, default-constructible function object
// expect: input<> leaves
#include <kobai/kobai.hpp>
struct scaled {
  double k = 2;
  template <class T>
  constexpr T operator()(T a) const {
    return k * a;
  }
};
int main() {
  constexpr auto f = kobai::trace(scaled{3.0}, kobai::var<"x">);
  (void)f;
}
