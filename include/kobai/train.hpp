// kobai's training layer: optimizers with torch.optim's semantics, learning-rate schedules, data
// sets and minibatches, initialisers, checkpoints, compiled training steps and fit.
#pragma once

#include "kobai/train/adam.hpp"
#include "kobai/train/data.hpp"
#include "kobai/train/fit.hpp"
#include "kobai/train/init.hpp"
#include "kobai/train/npz.hpp"
#include "kobai/train/rmsprop.hpp"
#include "kobai/train/schedules.hpp"
#include "kobai/train/sgd.hpp"
#include "kobai/train/step.hpp"
