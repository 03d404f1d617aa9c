// Two different leaves with one name would make bindings ambiguous.
// expect: kobai: two different leaves share a name
#include <kobai/cpu/program.hpp>
#include <kobai/kobai.hpp>
using namespace kobai;
int main() {
  auto program = compile(var<"x"> * input<"x", 1>);
  (void)program;
}
