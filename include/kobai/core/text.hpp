// String building for error messages and printing.
#pragma once

#include <string>
#include <string_view>

namespace kobai::detail {

/// Concatenation by appending (GCC 12 warns falsely on `"a" + std::string` chains at -O3).
template <class... Parts>
std::string join(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

}  // namespace kobai::detail
