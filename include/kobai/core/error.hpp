// kobai's exception types: every run-time mistake names the variable and the shapes.
#pragma once

#include <stdexcept>
#include <string>

namespace kobai {

/// Base of every exception kobai throws.
struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Extents that do not agree (or do not broadcast); the message names the variables and shapes.
struct shape_error : error {
  using error::error;
};

/// A binding whose rank or value does not fit the variable it binds.
struct binding_error : error {
  using error::error;
};

}  // namespace kobai
