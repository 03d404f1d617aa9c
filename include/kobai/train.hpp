// kobai's training layer: optimizers with torch.optim's semantics and learning-rate schedules.
#pragma once

#include "kobai/train/adam.hpp"
#include "kobai/train/rmsprop.hpp"
#include "kobai/train/schedules.hpp"
#include "kobai/train/sgd.hpp"
