// kobai: the whole library. Expressions, symbolic derivatives, evaluation and introspection.
#pragma once

#include "kobai/diff/functional.hpp"
#include "kobai/diff/grad.hpp"
#include "kobai/diff/gradcheck.hpp"
#include "kobai/expr/environment.hpp"
#include "kobai/expr/indices.hpp"
#include "kobai/expr/linalg.hpp"
#include "kobai/expr/literals.hpp"
#include "kobai/expr/losses.hpp"
#include "kobai/expr/operators.hpp"
#include "kobai/expr/print.hpp"
#include "kobai/expr/reductions.hpp"
#include "kobai/expr/trace.hpp"
