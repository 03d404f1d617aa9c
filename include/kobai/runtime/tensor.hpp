// device_tensor: a row-major tensor in one device's memory (a GPU's, or the host's when programs
// run on the CPU), bound to a program by name like a host container. Copies between host and
// device are explicit: to_device and to_host, like PyTorch's .to("cuda") and .cpu().
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>

#include <xtensor/xtensor.hpp>

#include "kobai/runtime/memory.hpp"

namespace kobai {

template <class T, std::size_t R>
class device_tensor {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "kobai: device tensors hold float or double");

 public:
  using value_type = T;
  device_tensor() = default;
  /// Uninitialised memory of the given shape on `backend`.
  device_tensor(std::shared_ptr<runtime::device_backend> backend, const std::array<std::size_t, R>& shape)
      : backend_(std::move(backend)), shape_(shape) {
    buffer_ = std::make_shared<runtime::device_buffer>(backend_, size() * sizeof(T));
  }
  [[nodiscard]] T* data() const { return buffer_ ? static_cast<T*>(buffer_->data()) : nullptr; }
  [[nodiscard]] const std::array<std::size_t, R>& shape() const { return shape_; }
  [[nodiscard]] static constexpr std::size_t dimension() { return R; }
  [[nodiscard]] std::size_t size() const {
    std::size_t count = 1;
    for (std::size_t e : shape_) count *= e;
    return count;
  }
  /// The device whose memory holds it.
  [[nodiscard]] const std::shared_ptr<runtime::device_backend>& backend() const { return backend_; }

 private:
  std::shared_ptr<runtime::device_backend> backend_;
  std::shared_ptr<runtime::device_buffer> buffer_;  // shared by copies, like a torch.Tensor handle
  std::array<std::size_t, R> shape_{};
};

/// Copies a host tensor to `backend`'s memory (pass a program's backend()).
template <class T, std::size_t R>
device_tensor<T, R> to_device(const xt::xtensor<T, R>& host, const std::shared_ptr<runtime::device_backend>& backend) {
  std::array<std::size_t, R> shape{};
  std::copy(host.shape().begin(), host.shape().end(), shape.begin());
  device_tensor<T, R> result(backend, shape);
  backend->copy_to_device(result.data(), host.data(), result.size() * sizeof(T));
  return result;
}

/// Copies a device tensor back to the host.
template <class T, std::size_t R>
xt::xtensor<T, R> to_host(const device_tensor<T, R>& tensor) {
  auto host = xt::xtensor<T, R>::from_shape(tensor.shape());
  if (tensor.backend()) tensor.backend()->copy_to_host(host.data(), tensor.data(), tensor.size() * sizeof(T));
  return host;
}

namespace detail {
template <class T>
inline constexpr bool is_device_tensor = false;
template <class T, std::size_t R>
inline constexpr bool is_device_tensor<device_tensor<T, R>> = true;
}  // namespace detail

}  // namespace kobai
