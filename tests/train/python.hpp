// The tests' way to reach NumPy: the first python3 that imports it (the one on PATH, else
// Debian's, which has python3-numpy), or "" when none does and the check is to be skipped.
#pragma once

#include <cstdlib>
#include <string>

inline std::string python_with_numpy() {
  for (const char* candidate : {"python3", "/usr/bin/python3"})
    if (std::system((std::string(candidate) + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return candidate;
  return "";
}
