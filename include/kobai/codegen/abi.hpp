// The kernel ABI between generated CUDA sources and the executor that launches them: the kernels of
// a program, and the one by-value argument of 8-byte fields (`kobai_args`) they all take, each
// field described once. Not a template: the renderer (codegen/cuda.cpp) writes it,
// runtime/executor.hpp fills it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kobai::codegen {

/// Bumped whenever generated code changes meaning; part of every kernel cache key.
inline constexpr int version = 3;

/// What one 8-byte field of `kobai_args` holds. `index` is an SSA node for leaves, views, scalars
/// and stored values; an output's position for outputs and output_offset; a class for extents; a
/// top-level loop for partial_width and grid.
enum class field : std::uint8_t {
  leaf,            // const T*: a tensor leaf
  output,          // T*: a tensor output
  view,            // T*: a written-out view (flatten, reshape of a computed value)
  scalar,          // double: a scalar leaf
  extent,          // long long: a class's extent
  results,         // double*: folded global values and scalar outputs
  partials,        // double*: per-block partials of the loop running
  scratch,         // T*: per-thread local buffers
  accumulators,    // double*: per-thread global accumulators with classes
  size,            // long long: elements of a stored value's buffer
  base,            // long long: its first element in scratch or accumulators (per thread)
  result_offset,   // long long: a global value's first element in results
  partial_offset,  // long long: a global value's first element in a block's partials
  partial_width,   // long long: a loop's partials per block
  grid,            // long long: blocks a loop's kernel is launched with
  output_offset,   // long long: where a scalar output computed outside the loops sits in results
  source,          // T*: what an indirect view (take, select, narrow, concat, stack) gathers from or scatters
  slicing,         // long long: one number of an indirect view's ir::slicing (index: node · 8 + slicing_part)
};

/// The numbers of an indirect view's ir::slicing, in the order the slicing fields give them.
enum class slicing_part : int { outer, length, inner, count, offset };
inline constexpr std::array<std::string_view, 5> slicing_parts{"outer", "length", "inner", "count", "offset"};

/// How the executor writes a field's 8 bytes.
enum class representation : std::uint8_t { address, integer, real };

/// A field's C declaration (its type, with T for the element type, and its name's prefix) and its
/// representation: the one description of `kobai_args` the renderer and the executor both read.
struct field_spec {
  std::string_view type;
  std::string_view prefix;
  representation as;
};
inline constexpr std::array<field_spec, 18> field_specs{{
    {"const T* __restrict__", "in", representation::address},  // leaf
    {"T* __restrict__", "out", representation::address},       // output
    {"T*", "view", representation::address},                   // view
    {"double", "s", representation::real},                     // scalar
    {"long long", "e", representation::integer},               // extent
    {"double*", "results", representation::address},           // results
    {"double* __restrict__", "partials", representation::address},
    {"T* __restrict__", "scratch", representation::address},
    {"double* __restrict__", "accumulators", representation::address},
    {"long long", "n", representation::integer},   // size
    {"long long", "b", representation::integer},   // base
    {"long long", "f", representation::integer},   // result_offset
    {"long long", "p", representation::integer},   // partial_offset
    {"long long", "w", representation::integer},   // partial_width
    {"long long", "g", representation::integer},   // grid
    {"long long", "o", representation::integer},   // output_offset
    {"T*", "src", representation::address},        // source
    {"long long", "sl", representation::integer},  // slicing
}};
static_assert(field_specs.size() == static_cast<std::size_t>(field::slicing) + 1,
              "codegen::field_specs: one row per field, in the order of the enum");
constexpr const field_spec& spec(field kind) { return field_specs[static_cast<std::size_t>(kind)]; }

/// One field of a program's argument: what it holds, and its name in the source (the prefix, the
/// SSA node or index, and the user's leaf name where there is one: in3_X, s5_lr).
struct field_info {
  field kind;
  int index = -1;
  std::string name;
};

/// One generated kernel, in launch order: a loop's kernel (any grid, blockDim.x a multiple of 32,
/// at most 1024), the finishing kernel that folds its partials (one block), a tail computing
/// scalar outputs when no finishing kernel does, or the fill of an indirect view's memory between
/// loops (any grid: a gather's threads share its elements, a scatter's its columns).
struct kernel {
  std::string name;
  int loop = -1;  // the top-level loop (0, 1, …); -1 for the tail and fills
  bool finish = false;
  int fill = -1;  // the indirect view a fill kernel fills (an SSA node)
};

/// Generated source, its kernels, and the fields of their one argument.
struct cuda_program {
  std::string source;
  std::vector<kernel> kernels;
  std::vector<field_info> fields;
};

/// Threads per block for loop kernels and finishing kernels.
inline constexpr unsigned block_size = 256;

}  // namespace kobai::codegen
