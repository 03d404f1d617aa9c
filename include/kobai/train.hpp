// kobai's training layer: optimizers with torch.optim's semantics, learning-rate schedules, data
// sets and minibatches.
#pragma once

#include "kobai/train/adam.hpp"
#include "kobai/train/data.hpp"
#include "kobai/train/init.hpp"
#include "kobai/train/npz.hpp"
#include "kobai/train/rmsprop.hpp"
#include "kobai/train/schedules.hpp"
#include "kobai/train/sgd.hpp"
