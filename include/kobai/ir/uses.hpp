// One instance of a subexpression per index map it is read under. A tensor read along two axes of
// one computation (X in X·Xᵀ, x in xᵀAx, x − μ in (x − μ)(x − μ)ᵀ, X in softmax(XWq(XWk)ᵀ)) would
// tie those axes into one iteration class (ir/classes.hpp): one loop index for two axes. Instead,
// such a subexpression is instantiated once per way it is read; a leaf's instances are copies with
// the same name, bound to the same value, whose axes take classes of their own. A sum (any
// reduction) is computed once: its further instances read its stored value again from memory, on
// axes of their own (ops::reread). Summed again in another loop nest, it would be summed in
// another order, and a comparison of the two (the gradient of max<0>(Z) tests Z == max<0>(Z))
// could find a maximum not equal to itself. Elementwise values are recomputed per instance, with
// the same bits (cpu/interpreter.hpp computes one element as a SIMD lane would).
//
// The instances are planned as constexpr data, then made types (the backends render nodes by
// type), and only for programs that have such a conflict. The nodes are taken users first; each
// use of a node joins the first of its instances so far that it can share without tying two axes
// of one instance together, or else starts an instance of its own (whose new axes tie nothing
// together). Ties are only ever added, each checked against all those before, so the program that
// results has no conflict, and a node has at most one instance per use: X·Xᵀ reads two instances of
// X; attention's V = X·Wv shares K's instance of X, not Q's. Greedy, it is not always the fewest
// instances: sharing decided near the outputs can force splits nearer the leaves (the gradient of
// Σ W⊙(Z·Zᵀ) takes three instances of W where two would do).
//
// The gradient of a leaf read under several maps needs nothing here: reverse mode already sums its
// adjoints over its uses (diff/reverse.hpp), and the instances only change how that sum's terms are
// looped over.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "kobai/ir/classes.hpp"

namespace kobai::ir::uses {

/// The tag of instance `Copy` (1, 2, …) of a leaf that users wrote with tag `Previous` (void).
template <class Previous, int Copy>
struct copy_for {};

/// One instance of a node: the node (SSA index of the program as written), which instance of it
/// this is (0 for the first), and its arguments (instances).
struct instance {
  int node = -1;
  int copy = 0;
  std::array<int, 3> args{-1, -1, -1};
  bool reread = false;  // node's stored value, read again: args[0] is the instance that computes it
};

namespace detail {

template <std::size_t N>
class separator {
 public:
  constexpr separator(const std::array<node_info, N>& nodes, const int* outputs, int outputs_count) : nodes_(nodes) {
    inst_ = new instance[capacity];
    parent_ = new int[capacity * max_axes];
    saved_ = new int[capacity * max_axes];
    outputs_ = new int[static_cast<std::size_t>(outputs_count)];
    reread_ = new node_info[N];
    for (int m = static_cast<int>(N) - 1; m >= 0 && !failed_; --m) {
      const int first = place(m);
      for (int o = 0; o < outputs_count; ++o)
        if (outputs[o] == m) outputs_[o] = first;
    }
    for (int j = 0; j < count_ && !failed_; ++j) distinguish(j);
  }
  constexpr ~separator() {
    delete[] inst_;
    delete[] parent_;
    delete[] saved_;
    delete[] outputs_;
    delete[] reread_;
  }
  separator(const separator&) = delete;
  separator& operator=(const separator&) = delete;

  /// The number of instances; 0 past the capacity (the planner then reports the conflict).
  constexpr int size() const { return failed_ ? 0 : count_; }
  /// The instances, with the outputs' instances.
  template <std::size_t Count, std::size_t K>
  constexpr void write(std::array<instance, Count>& out, std::array<int, K>& outputs) const {
    for (int i = 0; i < count_; ++i) out[static_cast<std::size_t>(i)] = inst_[i];
    for (std::size_t o = 0; o < K; ++o) outputs[o] = outputs_[o];
  }

 private:
  constexpr const node_info& info(int i) const {
    return inst_[i].reread ? reread_[inst_[i].node] : nodes_[static_cast<std::size_t>(inst_[i].node)];
  }

  constexpr int find(int x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  constexpr void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a != b) parent_[a < b ? b : a] = a < b ? a : b;
  }
  // Instance u reads instance g as its argument k: their axes tied by the op's axis map.
  constexpr void tie(int u, int k, int g) {
    for (int p = 0; p < info(u).rank; ++p)
      if (const int q = info(u).map[static_cast<std::size_t>(k)][static_cast<std::size_t>(p)]; q >= 0)
        unite(u * max_axes + p, g * max_axes + q);
  }
  // Whether some instance has two axes of one class.
  constexpr bool conflicted() {
    for (int i = 0; i < count_; ++i)
      for (int p = 0; p < info(i).rank; ++p)
        for (int q = 0; q < p; ++q)
          if (((info(i).units >> p) & 1U) == 0 && ((info(i).units >> q) & 1U) == 0 &&
              find(i * max_axes + p) == find(i * max_axes + q))
            return true;
    return false;
  }
  constexpr int add_instance(int m, int copy) {
    if (count_ == static_cast<int>(capacity)) {
      failed_ = true;
      return 0;
    }
    inst_[count_] = instance{m, copy, {-1, -1, -1}};
    for (int p = 0; p < max_axes; ++p) parent_[count_ * max_axes + p] = count_ * max_axes + p;
    return count_++;
  }
  // The instances of node m, for every use of it by the instances placed so far (all users of it);
  // returns the first.
  constexpr int place(int m) {
    const int first = count_;
    for (int u = 0; u < first; ++u)
      for (int k = 0; k < info(u).nargs; ++k)
        if (info(u).args[static_cast<std::size_t>(k)] == m)
          inst_[u].args[static_cast<std::size_t>(k)] = join(u, k, m, first);
    if (count_ == first) add_instance(m, 0);  // an output that nothing reads
    return first;
  }
  // The instance of node m (those from `first` on) that use k of instance u reads: the first it
  // can share without tying two axes of one instance together, or a new one.
  constexpr int join(int u, int k, int m, int first) {
    for (int g = first; g < count_; ++g) {
      work_ += 3 * count_;  // the copy, the check and the restore below, each over every instance
      if (work_ > work_limit) {
        failed_ = true;
        return g;
      }
      for (int e = 0; e < count_ * max_axes; ++e) saved_[e] = parent_[e];
      tie(u, k, g);
      if (!conflicted()) return g;
      for (int e = 0; e < count_ * max_axes; ++e) parent_[e] = saved_[e];
    }
    const int g = add_instance(m, count_ - first);
    if (!failed_ && g > first && nodes_[static_cast<std::size_t>(m)].k == kind::reduction) reread(g, first);
    tie(u, k, g);  // new axes, each tied to one of u's: no conflict
    return g;
  }
  // Instance g reads the value instance `source` (of a reduction) stores, on axes of its own.
  constexpr void reread(int g, int source) {
    const int m = inst_[g].node;
    node_info& view = reread_[m];
    view = node_info{};
    view.k = kind::view;
    view.rank = nodes_[static_cast<std::size_t>(m)].rank;
    view.units = nodes_[static_cast<std::size_t>(m)].units;
    view.nargs = 1;
    view.args[0] = -1;  // (the instance it reads is inst_[g].args[0], not a node: place() must not see it)
    view.reads[0] = true;
    for (auto& axes : view.map) axes.fill(-1);
    view.rereads = true;
    inst_[g].reread = true;
    inst_[g].args = {source, -1, -1};
  }

  // Instances become types (instance_type): two instances of a node that read the same instances
  // would be one type, one node again. That happens where an op's axes are not its argument's
  // (flatten, reshape<E...>): a second instance of flatten(X) ties nothing to X's, so it shares X's
  // instance. The later one reads a copy of its first argument instead, copied down to a leaf,
  // whose copy is a type of its own. A copy has the ties of the instance it copies, on axes of its
  // own: it only splits classes, so it adds no conflict.
  // (A reread is a type of its own, by its copy number.)
  constexpr void distinguish(int j) {
    if (inst_[j].copy == 0 || info(j).nargs == 0 || inst_[j].reread) return;
    for (int i = j - 1; i >= 0 && inst_[i].node == inst_[j].node; --i)  // (a node's instances are placed together)
      if (!inst_[i].reread && inst_[i].args == inst_[j].args) {
        if (const int k = first_computed_arg(j); k >= 0)
          inst_[j].args[static_cast<std::size_t>(k)] = copy_of(inst_[j].args[static_cast<std::size_t>(k)]);
        return;
      }
  }
  constexpr int first_computed_arg(int i) const {
    for (int k = 0; k < info(i).nargs; ++k)
      if (info(inst_[i].args[static_cast<std::size_t>(k)]).k != kind::constant) return k;
    return -1;
  }
  constexpr int copies_of(int m) const {  // the instances of node m so far
    int copies = 0;
    for (int i = 0; i < count_; ++i) copies += inst_[i].node == m ? 1 : 0;
    return copies;
  }
  constexpr int copy_of(int g) {  // a sum's copy reads its value again
    const int m = inst_[g].node;
    const int c = add_instance(m, copies_of(m));
    if (failed_) return g;
    if (inst_[g].reread || nodes_[static_cast<std::size_t>(m)].k == kind::reduction) {
      reread(c, inst_[g].reread ? inst_[g].args[0] : g);
      return c;
    }
    inst_[c].args = inst_[g].args;
    if (const int k = first_computed_arg(c); k >= 0)
      inst_[c].args[static_cast<std::size_t>(k)] = copy_of(inst_[c].args[static_cast<std::size_t>(k)]);
    return c;
  }

  // Instances at most (a bound on compile time; none of the programs tried comes near it).
  static constexpr std::size_t capacity = 8 * N + 64;
  // Instance visits at most: each share tried rechecks every instance, so the work grows with the
  // square of the instances; past this bound the separation stops and the program is refused with
  // kobai's message, within GCC's constexpr budget (33,554,432 operations per evaluation). An
  // incremental conflict check would lift it. (An hvp of a 10-step program around X·Xᵀ reaches it;
  // the attention step of tests/cpu/multi_use_attention.cpp fits in half of it.)
  static constexpr long long work_limit = 100'000;
  long long work_ = 0;

  const std::array<node_info, N>& nodes_;
  bool failed_ = false;
  int count_ = 0;
  instance* inst_ = nullptr;
  int* parent_ = nullptr;
  int* saved_ = nullptr;
  int* outputs_ = nullptr;
  node_info* reread_ = nullptr;  // by node: how a reread of it is seen (reread)
};

}  // namespace detail

/// The number of instances of the separated program; 0 when the program as written has no
/// conflict (its nodes are its instances).
template <std::size_t N, std::size_t K>
constexpr std::size_t separated_size(const std::array<node_info, N>& nodes, const std::array<int, K>& outputs) {
  class_data<N> classes;
  assign_classes(classes, nodes);
  if (classes.error != failure::axis_conflict) return 0;
  return static_cast<std::size_t>(detail::separator<N>(nodes, outputs.data(), static_cast<int>(K)).size());
}

template <std::size_t Count, std::size_t K>
struct separation {
  std::array<instance, Count> instances{};
  std::array<int, K> outputs{};
};

template <std::size_t Count, std::size_t N, std::size_t K>
constexpr separation<Count, K> separate(const std::array<node_info, N>& nodes, const std::array<int, K>& outputs) {
  separation<Count, K> result;
  detail::separator<N>(nodes, outputs.data(), static_cast<int>(K)).write(result.instances, result.outputs);
  return result;
}

/// The type of instance I of a separation (`Plan::value`) of the nodes of `Order`.
template <class Plan, int I,
          class E = typename Plan::order::template at<static_cast<std::size_t>(Plan::value.instances[I].node)>,
          bool Reread = Plan::value.instances[I].reread>
struct instance_type {
  using type = E;  // constants
};
template <class Plan, int I, class E>
struct instance_type<Plan, I, E, true> {
  using type = node<ops::reread<Plan::value.instances[I].copy>,
                    typename instance_type<Plan, Plan::value.instances[I].args[0]>::type>;
};
template <class Plan, int I, fixed_string Name, int Rank, role Role, class Use, class Element>
struct instance_type<Plan, I, leaf<Name, Rank, Role, Use, Element>, false> {
  static constexpr int copy = Plan::value.instances[I].copy;
  using type = std::conditional_t<copy == 0, leaf<Name, Rank, Role, Use, Element>,
                                  leaf<Name, Rank, Role, copy_for<Use, copy>, Element>>;
};
template <class Plan, int I, class Op, class... Args>
struct instance_type<Plan, I, node<Op, Args...>, false> {
  template <std::size_t... K>
  static auto build(std::index_sequence<K...>)
      -> node<Op, typename instance_type<Plan, Plan::value.instances[I].args[K]>::type...>;
  using type = decltype(build(std::index_sequence_for<Args...>{}));
};

/// The separation of the outputs Outputs... of `Order` (SSA indices `Indices`) into Count instances.
template <class Order, std::size_t Count, const auto& Indices>
struct separated_program {
  using order = Order;
  static constexpr auto value = separate<Count>(described<Order>::value, Indices);
};
template <class Plan, class Outputs>
struct instance_types;
template <class Plan, std::size_t... O>
struct instance_types<Plan, std::index_sequence<O...>> {
  using type = type_list<typename instance_type<Plan, Plan::value.outputs[O]>::type...>;
};

/// The outputs with each subexpression read under conflicting index maps instantiated once per
/// map: `type` is the type_list of outputs the planner plans.
template <class... Outputs>
struct separated {
  using order = topological_order<Outputs...>;
  static constexpr std::array<int, sizeof...(Outputs)> outputs{static_cast<int>(index_of<Outputs, order>)...};
  static constexpr std::size_t count = separated_size(described<order>::value, outputs);
  using type = typename std::conditional_t<
      count == 0, std::type_identity<type_list<Outputs...>>,
      instance_types<separated_program<order, count, outputs>, std::index_sequence_for<Outputs...>>>::type;
};

}  // namespace kobai::ir::uses
