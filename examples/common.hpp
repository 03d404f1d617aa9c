// Shared by the examples: a tiny JSON writer for --json, and a main() wrapper that reports errors.
#pragma once

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace example {

/// One JSON object of numbers, number arrays and strings, keys in insertion order.
class json_object {
 public:
  void add(const std::string& key, double value) { add_raw(key, number(value)); }
  void add(const std::string& key, const std::vector<double>& values) {
    std::string text = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i != 0) text += ", ";
      text += number(values[i]);
    }
    text += "]";
    add_raw(key, text);
  }
  void add_text(const std::string& key, const std::string& text) {
    std::string quoted = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
    add_raw(key, quoted + "\"");
  }
  [[nodiscard]] std::string str() const { return "{" + body_ + "}"; }

 private:
  static std::string number(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.17g", value);
    return buffer;
  }
  void add_raw(const std::string& key, const std::string& value) {
    if (!body_.empty()) body_ += ", ";
    body_ += '"';
    body_ += key;
    body_ += "\": ";
    body_ += value;
  }
  std::string body_;
};

/// The value after `flag` on the command line, or "" (and `present` says whether the flag was there).
inline std::string option(int argc, char** argv, const std::string& flag, bool* present = nullptr) {
  for (int i = 1; i < argc; ++i) {
    if (flag == argv[i]) {
      if (present) *present = true;
      return i + 1 < argc ? argv[i + 1] : "";
    }
  }
  if (present) *present = false;
  return "";
}

inline bool wants_json(int argc, char** argv) {
  bool present = false;
  option(argc, argv, "--json", &present);
  return present;
}

/// Runs body(argc, argv); an exception becomes a message on stderr and exit status 1.
template <class Body>
int run(int argc, char** argv, Body body) noexcept {
  try {
    return body(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "error: unknown exception\n");
  }
  return 1;
}

}  // namespace example
