// The CUDA renderer's body (include/kobai/codegen/cuda.hpp): a planned program's loop nests as CUDA C
// source. Compiled once into the runtime library: it reads the plan's tables through a view of any
// size, so no translation unit compiles a renderer per program size.
#include "kobai/codegen/cuda.hpp"

#include <array>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kobai::codegen::detail {
namespace {

constexpr std::string_view primitives =
#include "kobai/codegen/prelude.cuh"
    ;
constexpr std::string_view block_fold =
#include "kobai/codegen/block_fold.cuh"
    ;

// The prelude: the primitives, the shared functions of expr/math.hpp, and the block fold.
std::string prelude() {
  std::string text(primitives);
  for (std::string_view definition : elementwise::cuda_definitions) text += join(definition, "\n");
  return text + std::string(block_fold);
}

std::string number(double x) {
  if (x == -std::numeric_limits<double>::infinity()) return "(-kobai_inf())";
  if (x == std::numeric_limits<double>::infinity()) return "kobai_inf()";
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", x);
  return buffer;
}

// The C expression of an elementwise node, in type `type`, from its operands' expressions: its
// op descriptor's `device` pattern filled in.
std::string expression_of(const node_text& node, const std::string& type, const std::array<std::string, 3>& a) {
  std::string text;
  const std::string_view pattern = node.expression;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      text += pattern[i];
      continue;
    }
    const char key = pattern[i + 1];
    i += 2;  // past the key and the closing brace
    if (key >= '0' && key <= '2')
      text += a[static_cast<std::size_t>(key - '0')];
    else if (key == 'T')
      text += type;
    else if (key == 'n')
      text += join(std::to_string(node.parameter), "LL");
    else if (key == 'r')
      text += number(node.parameter_value);
  }
  return text;
}

// Renders a planned program: its tables, and the outputs' SSA indices.
class renderer {
 public:
  renderer(const plan_view& plan, std::vector<node_text> text, std::vector<int> outputs, std::string_view type)
      : plan_(plan), nodes_(plan.nodes), text_(std::move(text)), outputs_(std::move(outputs)), type_(type) {}

  cuda_program render() {
    program_.source = prelude();
    declare_fields();
    int loop = 0, last_enter = -1, last_fill = -1;
    for (int i = 0; i < plan_.size; ++i) {
      if (code(i).op == ir::instr::enter && code(i).depth == 0) last_enter = i;
      if (code(i).op == ir::instr::indirect) last_fill = i;
    }
    // The tail runs in the last loop's finishing kernel unless a fill follows that loop (the tail
    // may read what it fills): then, as without loops, in a kernel of its own after everything.
    const bool tail_in_finish = last_enter >= 0 && last_fill < code(last_enter).match;
    for (int i = 0; i < plan_.size; ++i) {
      const ir::instruction& ins = code(i);
      if (ins.op == ir::instr::indirect) fill_kernel(i);  // (outside every loop, in order)
      if (ins.op != ir::instr::enter || ins.depth != 0) continue;
      loop_kernel(i, loop);
      const bool tail_here = i == last_enter && tail_in_finish && has_tail();
      if (has_globals(i) || tail_here) finish_kernel(i, loop, tail_here);
      i = ins.match;
      ++loop;
    }
    if (!tail_in_finish && has_tail()) {  // scalar outputs computed after the last loop and fill
      s_ += "\nextern \"C\" __global__ void kobai_tail(const kobai_args a) {\n";
      tail(1);
      s_ += "}\n";
      program_.kernels.push_back({"kobai_tail", -1, false});
    }
    program_.source += s_;
    return std::move(program_);
  }

 private:
  int node_count() const { return static_cast<int>(nodes_.size()); }
  const ir::instruction& code(int i) const { return plan_.code[static_cast<std::size_t>(i)]; }
  const ir::node_info& info(int n) const { return nodes_[static_cast<std::size_t>(n)]; }
  bool stored(int n) const { return ir::stored(plan_, nodes_, n); }
  bool global(int n) const { return plan_.global[static_cast<std::size_t>(n)]; }
  std::uint64_t buffer_classes(int n) const { return plan_.buffer_dims[static_cast<std::size_t>(n)]; }
  int cls(int n, int p) const { return plan_.cls[static_cast<std::size_t>(n)][static_cast<std::size_t>(p)]; }
  static std::string str(long long x) { return std::to_string(x); }
  static std::string pad(int depth) { return std::string(static_cast<std::size_t>(2 * depth), ' '); }

  // A field's name: its prefix, then the node (or output, class, loop) it is for, then the leaf's
  // name or the stored value's op (in3_X, s5_lr, n12_sum); the buffers have the prefix alone.
  std::string field_name(field kind, int index) const {
    const std::string prefix(spec(kind).prefix);
    switch (kind) {
      case field::results:
      case field::partials:
      case field::scratch:
      case field::accumulators:
        return prefix;
      case field::leaf:
      case field::scalar:
      case field::size:
      case field::base:
      case field::result_offset:
      case field::partial_offset: {
        const std::string& label = text(index).label;
        return join(prefix, str(index), label.empty() ? "" : "_", label);
      }
      case field::slicing:
        return join(prefix, str(index / 8), "_", slicing_parts[static_cast<std::size_t>(index % 8)]);
      default:
        return join(prefix, str(index));
    }
  }
  std::string slicing_arg(int v, slicing_part part) const {
    return arg(field::slicing, v * 8 + static_cast<int>(part));
  }
  std::string arg(field kind, int index) const { return join("a.", field_name(kind, index)); }

  // kobai_args: one 8-byte field per pointer, extent, scalar and offset.
  void declare_fields() {
    std::string s = "\nstruct kobai_args {\n";
    auto add = [&](field kind, int index) {
      std::string type(spec(kind).type);
      if (const auto t = type.find('T'); t != std::string::npos) type.replace(t, 1, type_);
      program_.fields.push_back({kind, index, field_name(kind, index)});
      s += join("  ", type, " ", program_.fields.back().name, ";\n");
    };
    for (int n = 0; n < node_count(); ++n)
      if (info(n).k == ir::kind::tensor_leaf) add(field::leaf, n);
    for (std::size_t k = 0; k < outputs_.size(); ++k)
      if (ir::classes_of(plan_, nodes_, outputs_[k]) != 0) add(field::output, static_cast<int>(k));
    for (int n = 0; n < node_count(); ++n)
      if (info(n).k == ir::kind::view) add(field::view, n);
    for (int n = 0; n < node_count(); ++n)
      if (info(n).indirect) {
        add(field::source, n);
        for (int part = 0; part < static_cast<int>(slicing_parts.size()); ++part) add(field::slicing, n * 8 + part);
      }
    add(field::results, -1);
    add(field::partials, -1);
    add(field::scratch, -1);
    add(field::accumulators, -1);
    for (int n = 0; n < node_count(); ++n)
      if (info(n).k == ir::kind::scalar_leaf) add(field::scalar, n);
    for (int c = 0; c < plan_.classes; ++c) add(field::extent, c);
    for (int n = 0; n < node_count(); ++n) {
      if (!stored(n)) continue;
      add(field::size, n);
      add(field::base, n);
      if (global(n)) {
        add(field::result_offset, n);
        add(field::partial_offset, n);
      }
    }
    int loop = 0;
    for (int i = 0; i < plan_.size; ++i)
      if (code(i).op == ir::instr::enter && code(i).depth == 0) {
        add(field::partial_width, loop);
        add(field::grid, loop);
        ++loop;
      }
    for (std::size_t k = 0; k < outputs_.size(); ++k)
      if (root_output(static_cast<int>(k))) add(field::output_offset, static_cast<int>(k));
    s += "};\n";
    program_.source += s;
  }

  // An output without classes computed outside every loop: the tail writes it to results.
  bool root_output(int k) const {
    const int n = outputs_[static_cast<std::size_t>(k)];
    if (ir::classes_of(plan_, nodes_, n) != 0) return false;
    return ir::root_instruction(plan_, n) >= 0;
  }
  bool has_tail() const {
    for (std::size_t k = 0; k < outputs_.size(); ++k)
      if (root_output(static_cast<int>(k))) return true;
    return root_materialize(-1) >= 0;
  }
  // The materialize of view v outside every loop (v = -1: any), or -1. An indirect view's is not
  // written to memory: its fill kernel computes the one value it reads (fill_kernel).
  int root_materialize(int v) const {
    for (int i = 0; i < plan_.size; ++i)
      if (code(i).op == ir::instr::materialize && code(i).depth == 0 && (v < 0 || code(i).node == v) &&
          !info(code(i).node).indirect)
        return i;
    return -1;
  }
  // The materialize outside every loop of indirect view v's source (a value without axes), or -1.
  int root_source(int v) const {
    for (int i = 0; i < plan_.size; ++i)
      if (code(i).op == ir::instr::materialize && code(i).depth == 0 && code(i).node == v) return i;
    return -1;
  }
  bool has_globals(int enter) const {
    for (int r = 0; r < node_count(); ++r)
      if (folded(r, enter)) return true;
    return false;
  }
  bool completes(int r, int enter) const {
    return stored(r) && global(r) && plan_.done[static_cast<std::size_t>(r)] == enter;
  }
  bool owned(int r) const { return thread_owned(plan_, nodes_, r); }
  // Completes after the loop entered at `enter`, folded across threads through partials.
  bool folded(int r, int enter) const { return completes(r, enter) && !owned(r); }

  // Row-major offset of node n's elements at the current loop indices (units have extent 1).
  std::string row_major(int n) const {
    std::string offset, stride;
    for (int p = info(n).rank - 1; p >= 0; --p) {
      const int c = cls(n, p);
      if (c < 0) continue;
      const std::string index = join("i", str(c));
      const std::string term = stride.empty() ? index : join(index, " * ", stride);
      offset = offset.empty() ? term : join(term, " + ", offset);
      stride = stride.empty() ? join(arg(field::extent, c)) : join(stride, " * ", arg(field::extent, c));
    }
    return offset.empty() ? "0" : offset;
  }
  // Offset in stored value r's buffer: its classes in loop order, the innermost contiguous.
  std::string buffer_offset(int r) const {
    std::string offset, stride;
    for (int pos = plan_.classes - 1; pos >= 0; --pos)
      for (int c = 0; c < plan_.classes; ++c) {
        if (plan_.position[static_cast<std::size_t>(c)] != pos || ((buffer_classes(r) >> c) & 1U) == 0) continue;
        const std::string index = join("i", str(c));
        const std::string term = stride.empty() ? index : join(index, " * ", stride);
        offset = offset.empty() ? term : join(term, " + ", offset);
        stride = stride.empty() ? join(arg(field::extent, c)) : join(stride, " * ", arg(field::extent, c));
      }
    return offset.empty() ? "0" : offset;
  }
  // A stored value's element for this thread, at `element` of its buffer.
  std::string cell(int r, const std::string& element) const {
    if (owned(r)) return join(arg(field::results, -1), "[", arg(field::result_offset, r), " + ", element, "]");
    const bool registered = buffer_classes(r) == 0;
    if (global(r))
      return registered ? join("g", str(r))
                        : join(arg(field::accumulators, -1), "[(", arg(field::base, r), " + ", element,
                               ") * kobai_threads + kobai_tid]");
    return registered ? join("l", str(r))
                      : join(arg(field::scratch, -1), "[(", arg(field::base, r), " + ", element,
                             ") * kobai_threads + kobai_tid]");
  }
  std::string numel(int n) const {
    std::string product = "1LL";
    const int source = info(n).args[0];
    for (int p = 0; p < info(source).rank; ++p)
      if (cls(source, p) >= 0) product += join(" * ", arg(field::extent, cls(source, p)));
    return join("(", product, ")");
  }

  // Operand o read inside a loop or outside every loop (root), as T: a value computed outside every
  // loop has the bits it would have inside one.
  std::string operand(const ir::operand& o, bool root) const {
    const std::string t(type_);
    switch (o.s) {
      case ir::source::constant:
        return join(t, "(", number(text_[static_cast<std::size_t>(o.node)].constant), ")");
      case ir::source::scalar_leaf:
        return join(t, "(", arg(field::scalar, o.node), ")");
      case ir::source::tensor_leaf:
        return join(arg(field::leaf, o.node), "[", row_major(o.node), "]");
      case ir::source::view:
        if (const int i = root_materialize(o.node); i >= 0)  // a view of a value without axes
          return join(t, "(", operand(code(i).operands[0], true), ")");
        return join(t, "(", arg(field::view, o.node), "[", root ? "0" : row_major(o.node), "])");
      case ir::source::reduction:
        if (global(o.node))
          return join(t, "(", arg(field::results, -1), "[", arg(field::result_offset, o.node), " + ",
                      root ? "0" : buffer_offset(o.node), "])");
        return cell(o.node, buffer_offset(o.node));
      case ir::source::value:
        return code(o.item).depth == 0 ? join(t, "(r", str(o.item), ")") : join("v", str(o.item));
      default:
        return "/* no operand */";
    }
  }
  std::string compute(int i, bool root) const {
    const ir::instruction& ins = code(i);
    const std::string t(type_);
    if (info(ins.node).k == ir::kind::numel) return join(t, numel(ins.node));
    std::array<std::string, 3> a;
    for (std::size_t k = 0; k < 3; ++k)
      if (ins.operands[k].s != ir::source::none) a[k] = operand(ins.operands[k], root);
    return expression_of(text_[static_cast<std::size_t>(ins.node)], t, a);
  }

  // Values outside every loop, computed before instruction `end`, in T.
  void root_values(int end, int depth) {
    for (int i = 0; i < end; ++i)
      if (code(i).op == ir::instr::compute && code(i).depth == 0)
        s_ += join(pad(depth), "const ", type_, " r", str(i), " = ", compute(i, true), ";\n");
  }

  void loop_kernel(int enter, int loop) {
    const std::string name = join("kobai_loop_", str(loop));
    const int c = code(enter).cls;
    s_ += join("\nextern \"C\" __global__ void ", name, "(const kobai_args a) {\n");
    s_ += "  const long long kobai_threads = (long long)gridDim.x * blockDim.x;\n";
    s_ += "  const long long kobai_tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n";
    root_values(enter, 1);
    for (int r = 0; r < node_count(); ++r) {
      if (!folded(r, enter)) continue;
      const std::string identity = number(text(r).identity);
      if (buffer_classes(r) == 0)
        s_ += join("  double g", str(r), " = ", identity, ";\n");
      else
        s_ +=
            join("  for (long long e = 0; e < ", arg(field::size, r), "; ++e) ", cell(r, "e"), " = ", identity, ";\n");
    }
    s_ += join("  for (long long i", str(c), " = kobai_tid; i", str(c), " < ", arg(field::extent, c), "; i", str(c),
               " += kobai_threads) {\n");
    for (int r = 0; r < node_count(); ++r)  // this iteration's slice of values it owns
      if (completes(r, enter) && owned(r))
        s_ += join("    for (long long e = 0, slice = ", arg(field::size, r), " / ", arg(field::extent, c),
                   "; e < slice; ++e) ", arg(field::results, -1), "[", arg(field::result_offset, r), " + i", str(c),
                   " * slice + e] = ", number(text(r).identity), ";\n");
    body(enter + 1, code(enter).match);
    s_ += "  }\n";
    for (int r = 0; r < node_count(); ++r) {
      if (!folded(r, enter)) continue;
      const std::string fold = join(text(r).fold, "()"), identity = number(text(r).identity);
      const std::string slot = join(arg(field::partials, -1), "[blockIdx.x * ", arg(field::partial_width, loop), " + ",
                                    arg(field::partial_offset, r));
      if (buffer_classes(r) == 0) {
        s_ += join("  g", str(r), " = kobai_block_fold(g", str(r), ", ", identity, ", ", fold, ");\n");
        s_ += join("  if (threadIdx.x == 0) ", slot, "] = g", str(r), ";\n");
      } else {
        s_ += join("  for (long long e = 0; e < ", arg(field::size, r),
                   "; ++e) {\n    const double folded = kobai_block_fold(", cell(r, "e"), ", ", identity, ", ", fold,
                   ");\n    if (threadIdx.x == 0) ", slot, " + e] = folded;\n  }\n");
      }
    }
    s_ += "}\n";
    program_.kernels.push_back({name, loop, false});
  }

  // Folds each block's partials in block order: one block, its threads over the elements.
  void finish_kernel(int enter, int loop, bool with_tail) {
    const std::string name = join("kobai_loop_", str(loop), "_finish");
    s_ += join("\nextern \"C\" __global__ void ", name, "(const kobai_args a) {\n");
    for (int r = 0; r < node_count(); ++r) {
      if (!folded(r, enter)) continue;
      s_ += join("  for (long long e = threadIdx.x; e < ", arg(field::size, r),
                 "; e += blockDim.x) {\n    double total = ", number(text(r).identity),
                 ";\n    for (long long b = 0; b < ", arg(field::grid, loop), "; ++b) total = ", text(r).fold,
                 "()(total, ", arg(field::partials, -1), "[b * ", arg(field::partial_width, loop), " + ",
                 arg(field::partial_offset, r), " + e]);\n    ", arg(field::results, -1), "[",
                 arg(field::result_offset, r), " + e] = total;\n  }\n");
    }
    if (with_tail) {
      s_ += "  __syncthreads();\n";
      tail(1);
    }
    s_ += "}\n";
    program_.kernels.push_back({name, loop, true});
  }

  // Fills indirect view v's memory (row-major, as ir::slicing lays it out) from its source, as the
  // CPU's tasks::fill_indirect does. A gather (take, select, narrow, the parts of concat and stack)
  // copies one element per thread; a scatter (their gradients: put_add, unslice) zeroes and adds
  // one column (outer, inner) per thread, the indices in order: the same bits on every run, and as
  // on the CPU.
  void fill_kernel(int fill) {
    const int v = code(fill).node;
    const std::string name = join("kobai_fill_", str(v));
    const std::string t(type_), to = arg(field::view, v);
    const auto part = [&](slicing_part p) { return slicing_arg(v, p); };
    const std::string outer = part(slicing_part::outer), length = part(slicing_part::length),
                      inner = part(slicing_part::inner), count = part(slicing_part::count);
    const std::string at = info(v).first == -1 ? join("(long long)", arg(field::leaf, info(v).args[1]), "[k]")
                                               : join(part(slicing_part::offset), " + k");
    s_ += join("\nextern \"C\" __global__ void ", name, "(const kobai_args a) {\n");
    s_ += "  const long long kobai_threads = (long long)gridDim.x * blockDim.x;\n";
    s_ += "  const long long kobai_tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n";
    // a source without axes (a stacked scalar) is computed here, from the values outside every loop
    const int scalar_source = root_source(v);
    if (scalar_source >= 0) root_values(fill, 1);
    const auto from = [&](const std::string& element) {
      return scalar_source >= 0 ? join(t, "(", operand(code(scalar_source).operands[0], true), ")")
                                : join(arg(field::source, v), "[", element, "]");
    };
    if (info(v).scatters) {
      s_ += join("  for (long long e = kobai_tid; e < ", outer, " * ", inner, "; e += kobai_threads) {\n");
      s_ += join("    const long long i = e % ", inner, ", o = e / ", inner, ";\n");
      s_ += join("    for (long long j = 0; j < ", length, "; ++j) ", to, "[(o * ", length, " + j) * ", inner,
                 " + i] = ", t, "(0);\n");
      s_ += join("    for (long long k = 0; k < ", count, "; ++k) ", to, "[(o * ", length, " + ", at, ") * ", inner,
                 " + i] += ", from(join("(o * ", count, " + k) * ", inner, " + i")), ";\n");
    } else {
      s_ +=
          join("  for (long long e = kobai_tid; e < ", outer, " * ", count, " * ", inner, "; e += kobai_threads) {\n");
      s_ += join("    const long long i = e % ", inner, ", k = e / ", inner, " % ", count, ", o = e / ", inner, " / ",
                 count, ";\n");
      s_ += join("    ", to, "[e] = ", from(join("(o * ", length, " + ", at, ") * ", inner, " + i")), ";\n");
    }
    s_ += "  }\n}\n";
    program_.kernels.push_back({name, -1, false, v});
  }

  // Thread 0 computes the values outside the loops and writes the scalar outputs among them.
  void tail(int depth) {
    s_ += join(pad(depth), "if (threadIdx.x == 0 && blockIdx.x == 0) {\n");
    root_values(plan_.size, depth + 1);
    for (std::size_t k = 0; k < outputs_.size(); ++k)
      if (root_output(static_cast<int>(k)))
        s_ += join(pad(depth + 1), arg(field::results, -1), "[", arg(field::output_offset, static_cast<long long>(k)),
                   "] = r", str(ir::root_instruction(plan_, outputs_[k])), ";\n");
    for (int i = 0; i < plan_.size; ++i)  // views of values without axes, for the outputs among them
      if (code(i).op == ir::instr::materialize && code(i).depth == 0 && !info(code(i).node).indirect)
        s_ += join(pad(depth + 1), arg(field::view, code(i).node), "[0] = ", type_, "(",
                   operand(code(i).operands[0], true), ");\n");
    s_ += join(pad(depth), "}\n");
  }

  const node_text& text(int n) const { return text_[static_cast<std::size_t>(n)]; }

  // The instructions of a loop body, [begin, end), per thread.
  void body(int begin, int end) {
    const std::string t(type_);
    for (int i = begin; i < end; ++i) {
      const ir::instruction& ins = code(i);
      const std::string indent = pad(ins.depth + 1);
      const int n = ins.node;
      switch (ins.op) {
        case ir::instr::enter:
          s_ += join(indent, "for (long long i", str(ins.cls), " = 0; i", str(ins.cls), " < ",
                     arg(field::extent, ins.cls), "; ++i", str(ins.cls), ") {\n");
          break;
        case ir::instr::exit:
          s_ += join(indent, "}\n");
          break;
        case ir::instr::compute:
          s_ += join(indent, "const ", t, " v", str(i), " = ", compute(i, false), ";\n");
          break;
        case ir::instr::reset: {
          const std::string identity = join(t, "(", number(text(n).identity), ")");
          if (buffer_classes(n) == 0)
            s_ += join(indent, t, " l", str(n), " = ", identity, ";\n");
          else
            s_ += join(indent, "for (long long e = 0; e < ", arg(field::size, n), "; ++e) ", cell(n, "e"), " = ",
                       identity, ";\n");
          break;
        }
        case ir::instr::accumulate: {
          const std::string target = cell(n, buffer_offset(n));
          const std::string value = operand(ins.operands[0], false);
          s_ += join(indent, target, " = ", stored_fold(n), "()(", target, ", ", global(n) ? "(double)" : "", value,
                     ");\n");
          break;
        }
        case ir::instr::store:
          s_ += join(indent, arg(field::output, first_output(n)), "[", row_major(n),
                     "] = ", operand(ins.operands[0], false), ";\n");
          break;
        case ir::instr::materialize:  // (an indirect view's source has memory of its own)
          s_ += join(indent, arg(info(n).indirect ? field::source : field::view, n), "[", row_major(info(n).args[0]),
                     "] = ", operand(ins.operands[0], false), ";\n");
          break;
        case ir::instr::indirect:  // (a kernel of its own: fill_kernel)
          break;
      }
    }
  }
  // A cached value is a one-term sum; a reduction folds with its own operation.
  std::string_view stored_fold(int n) const { return info(n).k == ir::kind::reduction ? text(n).fold : "kobai_sum"; }
  long long first_output(int n) const {
    for (std::size_t k = 0; k < outputs_.size(); ++k)
      if (outputs_[k] == n) return static_cast<long long>(k);
    return -1;
  }

  const plan_view& plan_;
  std::span<const ir::node_info> nodes_;
  std::vector<node_text> text_;
  std::vector<int> outputs_;
  std::string_view type_;
  cuda_program program_;
  std::string s_;
};

}  // namespace

cuda_program render_plan(const plan_view& plan, std::vector<node_text> text, std::vector<int> outputs,
                         std::string_view type) {
  return renderer(plan, std::move(text), std::move(outputs), type).render();
}

}  // namespace kobai::codegen::detail
