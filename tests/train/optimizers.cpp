// Adam, AdamW, RMSprop and the learning-rate schedules against PyTorch: the expected values are
// torch.optim's own, printed by tests/train/torch_reference.py (torch 2.15, float64) on the same
// loss, whose gradient both sides write out by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/train.hpp"

using namespace kobai::train;

namespace {

constexpr std::array<double, 7> targets = {0.5, -1.0, 2.0, 0.25, -0.5, 1.5, 3.0};
constexpr std::array<double, 7> weights = {1.0, 2.0, 0.5, 3.0, 1.5, 0.75, 2.5};

// d/dp of Σ c·(p − t)² + 0.1·sin(p), element i of the seven parameters' elements
double gradient(double p, std::size_t i) { return 2 * weights[i] * (p - targets[i]) + 0.1 * std::cos(p); }

// The seven elements as a user holds them: a number, a vector of three and a 1×3 matrix.
struct parameters {
  double w = 1.5;
  xt::xtensor<double, 1> v = {1.0, -2.0, 0.5};
  xt::xtensor<double, 2> m = {{0.0, 2.0, -1.0}};
  std::vector<double> flat() const { return {w, v(0), v(1), v(2), m(0, 0), m(0, 1), m(0, 2)}; }
};

// 50 steps of `optimizer` on the loss, with a schedule stepped after each when one is given.
template <class Optimizer, class Schedule = std::nullptr_t>
std::vector<double> train(Optimizer& optimizer, Schedule* schedule = nullptr) {
  parameters p;
  for (int step = 0; step < 50; ++step) {
    const double dw = gradient(p.w, 0);
    xt::xtensor<double, 1> dv = xt::zeros<double>({3});
    xt::xtensor<double, 2> dm = xt::zeros<double>({1, 3});
    for (std::size_t i = 0; i < 3; ++i) {
      dv(i) = gradient(p.v(i), 1 + i);
      dm(0, i) = gradient(p.m(0, i), 4 + i);
    }
    optimizer.step(std::tie(p.w, p.v, p.m), std::tie(dw, dv, dm));
    if constexpr (!std::is_same_v<Schedule, std::nullptr_t>) schedule->step();
  }
  return p.flat();
}

template <class Options>
struct expectation {
  const char* name;
  Options options;
  std::array<double, 7> want;
};

void check_close(const std::vector<double>& got, const std::array<double, 7>& want) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(std::abs(got[i] - want[i]) <= 1e-12 * std::max(1.0, std::abs(want[i])));
  }
}

template <class Optimizer, class Options, std::size_t Count>
void check_against_torch(const std::array<expectation<Options>, Count>& cases) {
  for (const auto& c : cases) {
    INFO(c.name << " setting " << (&c - cases.data()));
    Optimizer optimizer(c.options);
    check_close(train(optimizer), c.want);
  }
}

}  // namespace

TEST_CASE("adam matches torch.optim.Adam over 50 steps in every setting") {
  check_against_torch<adam>(std::array{
      expectation<adam_options>{"adam",
                                {},
                                {1.4502891466991998, 0.95014714264201672, -1.9500813735546056, 0.45121242142676354,
                                 -0.049416154006973398, 1.9506200238656106, -0.95007674473280501}},
      expectation<adam_options>{"adam",
                                {.learning_rate = 0.05, .weight_decay = 0.1},
                                {0.3756848387412115, -0.88433565172655815, 0.22248593653821705, 0.24477829937581166,
                                 -0.51049676849000825, 1.4285670598472984, 1.2515946835163325}},
      expectation<adam_options>{"adam",
                                {.learning_rate = 0.02, .betas = {0.8, 0.99}, .eps = 1e-6, .amsgrad = true},
                                {0.70926463151185104, 0.093678007250238338, -1.0484253420543594, 0.23448165074159052,
                                 -0.52820736597412299, 1.4933705696533008, -0.044914918663840793}},
  });
}

TEST_CASE("adamw matches torch.optim.AdamW over 50 steps in every setting") {
  check_against_torch<adamw>(std::array{
      expectation<adamw_options>{"adamw",
                                 {},
                                 {1.4495559207009978, 0.94966095359792468, -1.949095478792535, 0.45098095678257855,
                                  -0.049404100772882785, 1.9496453202494048, -0.94958986183167626}},
      expectation<adamw_options>{"adamw",
                                 {.learning_rate = 0.05, .weight_decay = 0.2, .amsgrad = true},
                                 {0.41367026046933475, -0.81645918307943521, 0.4763843200527646, 0.24304353520020572,
                                  -0.51137678466408465, 1.4462832066753284, 1.1535412701697034}},
  });
}

TEST_CASE("rmsprop matches torch.optim.RMSprop over 50 steps in every setting") {
  check_against_torch<rmsprop>(std::array{
      expectation<rmsprop_options>{"rmsprop",
                                   {},
                                   {0.59085423039031326, -0.14113267235617083, -0.7643595228974378, 0.23378673198985531,
                                    -0.52751676316932417, 1.4957236966328813, 0.24281326022676192}},
      expectation<rmsprop_options>{"rmsprop",
                                   {.learning_rate = 0.005, .momentum = 0.9},
                                   {0.48663040499311433, -1.0509444109124981, 1.9264067660648745, 0.21424843931907861,
                                    -0.52348457569798168, 1.509385542111463, 2.9633103570144912}},
      expectation<rmsprop_options>{"rmsprop",
                                   {.learning_rate = 0.01, .alpha = 0.9, .weight_decay = 0.05, .centered = true},
                                   {0.56001894603332003, -0.39615906244100701, -0.1806971401188236, 0.23184736693696564,
                                    -0.51667541942393969, 1.4493837259632469, 0.87208262972646278}},
      expectation<rmsprop_options>{"rmsprop",
                                   {.learning_rate = 0.003, .momentum = 0.5, .centered = true},
                                   {0.79998089025149544, 0.20821940858747359, -1.1705350679621347, 0.23380385319985317,
                                    -0.49946720896915597, 1.5179443979089282, -0.16758001831302563}},
  });
}

// Optimizer `make()` on a parameter of `size` elements of type T (SIMD runs, their tail, several
// of the chunks the update converts at a time) against each element stepped alone as a number,
// over 20 steps of a gradient that differs by element and step: the same value and the same
// state for every element, the state slot-major as state().of() says (slot s of element i at
// s·size + i). A mixed-up index, tail or conversion changes some elements and not others.
template <class T, class Make>
void check_elementwise(Make make, std::size_t size) {
  INFO("size " << size);
  auto optimizer = make();
  std::vector<decltype(make())> alone;
  for (std::size_t i = 0; i < size; ++i) alone.push_back(make());
  xt::xtensor<T, 1> p = xt::zeros<T>({size});
  std::vector<T> q(size);
  for (std::size_t i = 0; i < size; ++i) p(i) = q[i] = static_cast<T>(0.01 * static_cast<double>(i % 37) - 0.2);
  auto g = [](T value, std::size_t i, int step) {
    return static_cast<T>(std::sin(0.3 * static_cast<double>(i) + step) + 0.5 * static_cast<double>(value));
  };
  for (int step = 0; step < 20; ++step) {
    xt::xtensor<T, 1> dp = xt::zeros<T>({size});
    for (std::size_t i = 0; i < size; ++i) dp(i) = g(p(i), i, step);
    optimizer.step(std::tie(p), std::tie(dp));
    for (std::size_t i = 0; i < size; ++i) {
      const T dq = g(q[i], i, step);
      alone[i].step(std::tie(q[i]), std::tie(dq));
    }
  }
  const std::vector<double>& state = optimizer.state().of(0);
  const std::size_t slots = state.size() / size;
  REQUIRE(state.size() == slots * size);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < size; ++i) {
    bool same = std::abs(static_cast<double>(p(i)) - static_cast<double>(q[i])) <=
                (std::is_same_v<T, float> ? 1e-6 : 1e-14) * std::max(1.0, std::abs(static_cast<double>(q[i])));
    for (std::size_t s = 0; s < slots; ++s)
      same = same && std::abs(state[s * size + i] - alone[i].state().of(0)[s]) <=
                         1e-12 * std::max(1.0, std::abs(alone[i].state().of(0)[s]));
    if (!same) ++wrong;
  }
  CHECK(wrong == 0);
  CHECK(std::abs(static_cast<double>(p(size - 1)) + 0.2 - 0.01 * static_cast<double>((size - 1) % 37)) > 1e-3);
}

template <class T>
void check_every_optimizer_elementwise() {
  for (std::size_t size : {1, 7, 8, 17, 613}) {
    check_elementwise<T>([] { return adam({.learning_rate = 0.05, .weight_decay = 0.1, .amsgrad = true}); }, size);
    check_elementwise<T>([] { return adamw({.learning_rate = 0.05}); }, size);
    check_elementwise<T>([] { return rmsprop({.learning_rate = 0.01, .momentum = 0.5, .centered = true}); }, size);
    check_elementwise<T>([] { return sgd({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true}); }, size);
  }
}

TEST_CASE("every element of a large parameter gets the update it gets alone, in double and float") {
  check_every_optimizer_elementwise<double>();
  check_every_optimizer_elementwise<float>();
}

// Each epoch's rate from a schedule over an SGD optimizer of base rate 0.1, against torch's.
template <template <class> class Schedule, class Options>
void check_schedule(const char* name, Options options, const std::array<double, 12>& want) {
  sgd optimizer({.learning_rate = 0.1});
  Schedule<sgd> schedule(optimizer, options);
  for (std::size_t epoch = 0; epoch < want.size(); ++epoch) {
    INFO(name << ", epoch " << epoch);
    CHECK(schedule.last_epoch() == epoch);
    CHECK(std::abs(optimizer.learning_rate() - want[epoch]) <= 1e-15);
    schedule.step();
  }
  CHECK(schedule.base_lr() == 0.1);
}

TEST_CASE("a schedule gives torch's learning rate at every epoch and sets it on the optimizer") {
  check_schedule<step_lr>("step_lr", step_lr_options{.step_size = 3, .gamma = 0.5},
                          {{0.10000000000000001, 0.10000000000000001, 0.10000000000000001, 0.050000000000000003,
                            0.050000000000000003, 0.050000000000000003, 0.025000000000000001, 0.025000000000000001,
                            0.025000000000000001, 0.012500000000000001, 0.012500000000000001, 0.012500000000000001}});
  check_schedule<exponential_lr>(
      "exponential_lr", exponential_lr_options{.gamma = 0.8},
      {{0.10000000000000001, 0.080000000000000016, 0.064000000000000015, 0.051200000000000016, 0.040960000000000017,
        0.032768000000000012, 0.026214400000000013, 0.020971520000000011, 0.016777216000000008, 0.013421772800000007,
        0.010737418240000006, 0.008589934592000005}});
  check_schedule<cosine_annealing_lr>(
      "cosine_annealing_lr", cosine_annealing_lr_options{.t_max = 8, .eta_min = 0.001},
      {{0.10000000000000001, 0.096232036859308701, 0.085501785668734107, 0.069442829902071956, 0.050500000000000003,
        0.031557170097928057, 0.0154982143312659, 0.0047679631406913059, 0.001, 0.0047679631406913068,
        0.01549821433126591, 0.031557170097928071}});
  check_schedule<linear_lr>("linear_lr", linear_lr_options{.start_factor = 0.25, .end_factor = 1.0, .total_iters = 4},
                            {{0.025000000000000001, 0.043750000000000004, 0.062500000000000014, 0.081250000000000017,
                              0.10000000000000002, 0.10000000000000002, 0.10000000000000002, 0.10000000000000002,
                              0.10000000000000002, 0.10000000000000002, 0.10000000000000002, 0.10000000000000002}});
}

TEST_CASE("a linear warm-up then cosine annealing gives torch's SequentialLR rates") {
  sgd optimizer({.learning_rate = 0.1});
  sequential_lr schedule(optimizer,
                         sequence(linear_lr_options{.start_factor = 0.25, .end_factor = 1.0, .total_iters = 3}, 3,
                                  cosine_annealing_lr_options{.t_max = 6, .eta_min = 0.001}));
  // torch: SequentialLR(opt, [LinearLR(opt, 0.25, 1.0, 3), CosineAnnealingLR(opt, 6, 0.001)], milestones=[3])
  const std::array<double, 12> want = {
      0.025000000000000001,  0.050000000000000003, 0.075000000000000011, 0.10000000000000001,   0.093368257487329728,
      0.075250000000000011,  0.050500000000000003, 0.025750000000000012, 0.0076317425126702842, 0.001,
      0.0076317425126702842, 0.025750000000000002};
  for (std::size_t epoch = 0; epoch < want.size(); ++epoch) {
    INFO("epoch " << epoch);
    CHECK(std::abs(optimizer.learning_rate() - want[epoch]) <= 1e-15);
    schedule.step();
  }
  CHECK_THROWS_AS(sequential_lr(optimizer, sequence(step_lr_options{.step_size = 0}, 2, exponential_lr_options{})),
                  kobai::error);
}

TEST_CASE("Adam under cosine annealing trains as torch's does") {
  adam optimizer({.learning_rate = 0.05});
  cosine_annealing_lr schedule(optimizer, {.t_max = 50});
  check_close(train(optimizer, &schedule),
              {0.49147963853455895, -0.17885969877899757, -0.76970217218302961, 0.2459692635925089,
               -0.56705399984369198, 1.4648532805942096, 0.23387114644602722});
  CHECK(schedule.last_epoch() == 50);
  CHECK(std::abs(optimizer.learning_rate()) <= 1e-15);  // the base times (1 + cos π) / 2 at t_max
}

TEST_CASE("the options keep torch's defaults and names") {
  const adam a;
  CHECK(a.options().learning_rate == 1e-3);
  CHECK(a.options().betas[0] == 0.9);
  CHECK(a.options().betas[1] == 0.999);
  CHECK(a.options().eps == 1e-8);
  CHECK(a.options().weight_decay == 0);
  CHECK(!a.options().amsgrad);
  const adamw aw;
  CHECK(aw.options().weight_decay == 1e-2);
  const rmsprop r;
  CHECK(r.options().learning_rate == 1e-2);
  CHECK(r.options().alpha == 0.99);
  CHECK(r.options().momentum == 0);
  CHECK(!r.options().centered);
}

TEST_CASE("misuse is a kobai::error that names the optimizer and the setting") {
  CHECK_THROWS_WITH_AS(adam({.learning_rate = -1}), "kobai::train::adam: learning_rate must not be negative",
                       kobai::error);
  CHECK_THROWS_WITH_AS(adamw({.betas = {0.9, 1.0}}), "kobai::train::adamw: betas must lie in [0, 1)", kobai::error);
  CHECK_THROWS_AS(rmsprop({.eps = -1e-8}), kobai::error);
  sgd plain({.learning_rate = 0.1});
  CHECK_THROWS_WITH_AS(step_lr(plain, {.step_size = 0}), "kobai::train::step_lr: step_size must be at least 1",
                       kobai::error);
  CHECK(plain.learning_rate() == 0.1);  // a refused schedule leaves the optimizer's rate alone
  CHECK_THROWS_AS(cosine_annealing_lr(plain, {.t_max = 0}), kobai::error);
  CHECK_THROWS_AS(linear_lr(plain, {.start_factor = 0}), kobai::error);

  adam optimizer;
  xt::xtensor<double, 1> p = {1, 2, 3};
  const xt::xtensor<double, 1> wrong = {1, 2};
  CHECK_THROWS_AS(optimizer.step(std::tie(p), std::tie(wrong)), kobai::shape_error);
  const xt::xtensor<double, 1> right = {1, 2, 3};
  optimizer.step(std::tie(p), std::tie(right));
  xt::xtensor<double, 1> longer = {1, 2, 3, 4};
  CHECK_THROWS_AS(optimizer.step(std::tie(longer), std::tie(longer)), kobai::shape_error);  // the state has 3
  double a = 1, b = 2;
  CHECK_THROWS_AS(optimizer.step(std::tie(a, b), std::tie(a, b)), kobai::error);  // 2 parameters, not 1
}
