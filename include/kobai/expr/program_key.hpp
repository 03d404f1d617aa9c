// A short name for a program's outputs, key_of<Outputs...>: a program_key of a 128-bit hash of
// the outputs' expression types, from which key_outputs<Key> gives the types back. The CPU
// executor's class templates take the key, not the outputs: GCC mangles the name of every
// function instantiated for a program, in time quadratic in the distinct types the name holds,
// and a program has thousands of per-instruction functions; named with the outputs' types, a
// program of 64 outputs spent most of its compile time there (docs/compile.md).
//
// The types come back through a friend function that key_of defines when it makes the key
// (key_binding below). Two different programs whose hashes collided in one translation unit would
// define that function twice, a compile error; across translation units, the executor's functions
// of the two would be merged by the linker. The hash is structural (an op's name, its arguments'
// hashes in order, each type hashed once), over the names the compiler prints for kobai's ops and
// leaves, so that only a 128-bit collision could make two programs one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/node.hpp"

namespace kobai::detail {

struct hash128 {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
};

// splitmix64's finaliser: every input bit reaches every output bit.
constexpr std::uint64_t mix64(std::uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}
// h followed by x (order matters: the arguments of a node are a sequence).
constexpr hash128 combine(hash128 h, hash128 x) {
  return {mix64(h.a * 0x9e3779b97f4a7c15ULL + x.a), mix64((h.b ^ 0x632be59bd9b4e019ULL) * 0xd6e8feb86659fd93ULL + x.b)};
}
constexpr hash128 text_hash(std::string_view text) {
  std::uint64_t a = 0xcbf29ce484222325ULL;  // FNV-1a, and a second lane with another prime
  std::uint64_t b = 0x84222325cbf29ce4ULL;
  for (const char c : text) {
    a = (a ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    b = (b ^ static_cast<unsigned char>(c)) * 0x9e3779b97f4a7c15ULL;
  }
  return {mix64(a ^ text.size()), mix64(b + text.size())};
}

// The compiler's spelling of T (its pretty function name, which names T whole).
template <class T>
constexpr std::string_view spelling_of() {
  return __PRETTY_FUNCTION__;
}

// Each type hashed once (a static member per type): a node by its op and its arguments, anything
// else (leaves, constants, ops) by its spelling, which is short for those.
template <class T>
struct type_hash {
  static constexpr hash128 value = text_hash(spelling_of<T>());
};
template <class Op, class... Args>
struct type_hash<node<Op, Args...>> {
  static constexpr hash128 value = [] {
    hash128 h = combine(text_hash("node"), type_hash<Op>::value);
    ((h = combine(h, type_hash<Args>::value)), ...);
    return h;
  }();
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"  // (declared here, defined by key_binding)
#endif
template <std::uint64_t A, std::uint64_t B>
struct program_key {
  friend constexpr auto outputs_of_key(program_key);
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

template <class... Outputs>
struct key_binding {
  static constexpr hash128 hash = [] {
    hash128 h = text_hash("outputs");
    ((h = combine(h, type_hash<Outputs>::value)), ...);
    return h;
  }();
  using key = program_key<hash.a, hash.b>;
  friend constexpr auto outputs_of_key(key) { return type_list<Outputs...>{}; }
};

/// The key of a program with these outputs.
template <class... Outputs>
using key_of = typename key_binding<Outputs...>::key;
/// The outputs of the program with key Key, a type_list (key_of must have made Key).
template <class Key>
using key_outputs = decltype(outputs_of_key(Key{}));

}  // namespace kobai::detail
