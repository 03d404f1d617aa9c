// dot takes vectors; matrix products are not there yet, and say so.
// expect: kobai::dot: takes two vectors (rank 1) of the same length
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  auto e = dot(var<"W", 2>, input<"x", 1>);
  (void)e;
}
