// .npz archives (NumPy's numpy.savez format: a zip of .npy files) for checkpoints: arrays by name,
// written uncompressed so that numpy.load reads them, and read back (uncompressed archives: those
// of numpy.savez and of kobai). Each array is encoded by xtensor's .npy writer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>
#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/train/data.hpp"

namespace kobai::train {

class npz_archive {
 public:
  /// Adds (or replaces) an array under `name` (stored as name.npy).
  template <class E>
  void put(const std::string& name, const E& array) {
    entries_[name] = xt::dump_npy(array);
  }
  [[nodiscard]] bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  /// The array stored under `name`, as an xt::xtensor<T, N> (the file's element type must be T's).
  template <class T, std::size_t N>
  [[nodiscard]] xt::xtensor<T, N> get(const std::string& name) const {
    const auto found = entries_.find(name);
    if (found == entries_.end()) throw error(kobai::detail::join("kobai::train::npz_archive: no array '", name, "'"));
    std::istringstream bytes(found->second);
    xt::xtensor<T, N> out;
    if (!detail::npy_as<T>(bytes, "kobai::train::npz_archive: '" + name + "'", out))
      throw error(kobai::detail::join("kobai::train::npz_archive: '", name,
                                      "' holds elements of another type than the one asked for"));
    return out;
  }
  /// The array stored under `name` as an xt::xtensor<T, N>, converting float64, float32, int64 or
  /// int32 elements (a float64 array of numpy.savez into a float32 model).
  template <class T, std::size_t N>
  [[nodiscard]] xt::xtensor<T, N> get_as(const std::string& name) const {
    const auto found = entries_.find(name);
    if (found == entries_.end()) throw error(kobai::detail::join("kobai::train::npz_archive: no array '", name, "'"));
    xt::xtensor<T, N> out;
    const std::string what = "kobai::train::npz_archive: '" + name + "'";
    const auto as = [&]<class U>(U*) {
      std::istringstream bytes(found->second);
      return detail::npy_as<U>(bytes, what, out);
    };
    if (as(static_cast<T*>(nullptr)) || as(static_cast<double*>(nullptr)) || as(static_cast<float*>(nullptr)) ||
        as(static_cast<std::int64_t*>(nullptr)) || as(static_cast<std::int32_t*>(nullptr)))
      return out;
    throw error(what + " holds elements other than float64, float32, int64 or int32");
  }
  /// The names of the arrays, in order.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : entries_) out.push_back(entry.first);
    return out;
  }
  /// Reads `name` into `into` (converting its elements as get_as), which must have the stored
  /// array's shape: a checkpoint of another shape is an error naming the array and both shapes.
  template <class T, std::size_t N>
  void get_into(const std::string& name, xt::xtensor<T, N>& into) const {
    xt::xtensor<T, N> read = get_as<T, N>(name);
    if (read.shape() != into.shape())
      throw shape_error(kobai::detail::join("kobai::train::npz_archive: '", name, "' is ", shape_text(read.shape()),
                                            " in the archive but ", shape_text(into.shape()), " here"));
    into = std::move(read);
  }

  /// Writes the archive (a zip of stored, uncompressed entries).
  void save(const std::string& path) const {
    std::string out, directory;
    for (const auto& [name, bytes] : entries_) {
      const std::string file = name + ".npy";
      if (bytes.size() >= 0xFFFFFFFFULL || out.size() >= 0xFFFFFFFFULL)
        throw error(kobai::detail::join("kobai::train::npz_archive: '", name, "' passes 4 GB (no zip64 support)"));
      const std::uint32_t crc = crc32(bytes), size = static_cast<std::uint32_t>(bytes.size());
      const auto offset = static_cast<std::uint32_t>(out.size());
      put_u32(out, 0x04034b50);  // local file header
      put_u16(out, 20);          // version needed
      put_u16(out, 0);           // flags
      put_u16(out, 0);           // stored
      put_u16(out, 0);           // time
      put_u16(out, 0x21);        // date: 1980-01-01
      put_u32(out, crc);
      put_u32(out, size);
      put_u32(out, size);
      put_u16(out, static_cast<std::uint16_t>(file.size()));
      put_u16(out, 0);
      out += file;
      out += bytes;
      put_u32(directory, 0x02014b50);  // central directory header
      put_u16(directory, 20);          // made by
      put_u16(directory, 20);          // needed
      put_u16(directory, 0);
      put_u16(directory, 0);
      put_u16(directory, 0);
      put_u16(directory, 0x21);
      put_u32(directory, crc);
      put_u32(directory, size);
      put_u32(directory, size);
      put_u16(directory, static_cast<std::uint16_t>(file.size()));
      put_u16(directory, 0);  // extra
      put_u16(directory, 0);  // comment
      put_u16(directory, 0);  // disk
      put_u16(directory, 0);  // internal attributes
      put_u32(directory, 0);  // external attributes
      put_u32(directory, offset);
      directory += file;
    }
    const auto directory_offset = static_cast<std::uint32_t>(out.size());
    out += directory;
    put_u32(out, 0x06054b50);  // end of central directory
    put_u16(out, 0);
    put_u16(out, 0);
    put_u16(out, static_cast<std::uint16_t>(entries_.size()));
    put_u16(out, static_cast<std::uint16_t>(entries_.size()));
    put_u32(out, static_cast<std::uint32_t>(directory.size()));
    put_u32(out, directory_offset);
    put_u16(out, 0);
    std::ofstream file(path, std::ios::binary);
    if (!file.write(out.data(), static_cast<std::streamsize>(out.size())))
      throw error(kobai::detail::join("kobai::train::npz_archive: cannot write '", path, "'"));
  }

  /// Reads an archive written by save() or numpy.savez (compressed entries are refused).
  static npz_archive load(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw error(kobai::detail::join("kobai::train::npz_archive: cannot open '", path, "'"));
    const std::string data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const auto fail = [&path](const char* what) {
      return error(kobai::detail::join("kobai::train::npz_archive: '", path, "' ", what));
    };
    std::size_t end = std::string::npos;
    for (std::size_t i = data.size() >= 22 ? data.size() - 22 : 0; i + 1 > 0 && data.size() >= 22; --i)
      if (get_u32(data, i) == 0x06054b50) {
        end = i;
        break;
      }
    if (end == std::string::npos) throw fail("is not a zip archive");
    const std::size_t count = get_u16(data, end + 10);
    std::size_t at = get_u32(data, end + 16);
    npz_archive archive;
    for (std::size_t k = 0; k < count; ++k) {
      if (at + 46 > data.size() || get_u32(data, at) != 0x02014b50) throw fail("has a broken central directory");
      const std::uint16_t method = get_u16(data, at + 10);
      const std::uint32_t crc = get_u32(data, at + 16), size = get_u32(data, at + 20);
      const std::size_t name_length = get_u16(data, at + 28), extra = get_u16(data, at + 30),
                        comment = get_u16(data, at + 32), local = get_u32(data, at + 42);
      std::string name = data.substr(at + 46, name_length);
      at += 46 + name_length + extra + comment;
      if (method != 0)
        throw fail("holds compressed entries (numpy.savez_compressed): save it with numpy.savez instead");
      if (local + 30 > data.size() || get_u32(data, local) != 0x04034b50) throw fail("has a broken entry");
      const std::size_t start = local + 30 + get_u16(data, local + 26) + get_u16(data, local + 28);
      if (start + size > data.size()) throw fail("is truncated");
      std::string bytes = data.substr(start, size);
      if (crc32(bytes) != crc) throw fail("has an entry whose checksum does not match");
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
      archive.entries_[name] = std::move(bytes);
    }
    return archive;
  }

 private:
  template <class Shape>
  static std::string shape_text(const Shape& shape) {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + ")";
  }
  static void put_u16(std::string& out, std::uint16_t v) {
    out += static_cast<char>(v & 0xFF);
    out += static_cast<char>(v >> 8);
  }
  static void put_u32(std::string& out, std::uint32_t v) {
    put_u16(out, static_cast<std::uint16_t>(v & 0xFFFF));
    put_u16(out, static_cast<std::uint16_t>(v >> 16));
  }
  static std::uint16_t get_u16(const std::string& in, std::size_t at) {
    return static_cast<std::uint16_t>(static_cast<unsigned char>(in[at]) |
                                      (static_cast<unsigned char>(in[at + 1]) << 8));
  }
  static std::uint32_t get_u32(const std::string& in, std::size_t at) {
    return get_u16(in, at) | (static_cast<std::uint32_t>(get_u16(in, at + 2)) << 16);
  }
  static std::uint32_t crc32(const std::string& bytes) {  // zip's CRC-32 (polynomial 0xEDB88320)
    static const std::array<std::uint32_t, 256> table = [] {
      std::array<std::uint32_t, 256> t{};
      for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
        t[i] = c;
      }
      return t;
    }();
    std::uint32_t c = 0xFFFFFFFFU;
    for (const char byte : bytes) c = table[(c ^ static_cast<unsigned char>(byte)) & 0xFFU] ^ (c >> 8);
    return c ^ 0xFFFFFFFFU;
  }

  std::map<std::string, std::string> entries_;
};

}  // namespace kobai::train
