// A tiny JSON writer for the examples' --json output: one object of numbers and number arrays.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace example {

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

inline bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--json") return true;
  return false;
}

}  // namespace example
