#include "attnio/model/files.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "attnio/model/errors.hpp"

namespace attnio {

std::string read_input_file(const std::string& path, const std::string& what, std::uint64_t max_bytes) {
  namespace fs = std::filesystem;
  const std::string name = what + " '" + path + "'";
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw InputError(name + ": cannot open (no such file)");
  if (!fs::is_regular_file(st)) throw InputError(name + ": not a regular file");
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) throw InputError(name + ": cannot read its size (" + ec.message() + ")");
  if (size > max_bytes) {
    throw InputError(name + ": " + std::to_string(size) + " bytes, more than the " + std::to_string(max_bytes) +
                     " a " + what + " may have");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(name + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(name + ": read failed");
  return text;
}

}  // namespace attnio
