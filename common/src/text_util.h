// Small text helpers shared by the parsers (private to the core).
#ifndef OTPGATE_SRC_TEXT_UTIL_H_
#define OTPGATE_SRC_TEXT_UTIL_H_

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/status.h"

namespace otpgate {

// Without leading/trailing spaces, tabs and carriage returns.
inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// The whole of `text` as a decimal integer in [min, max], or nullopt.
inline std::optional<int64_t> ParseInteger(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

// The same, or kInvalidArgument with `error` as its message.
inline Result<int64_t> ParseInteger(std::string_view text, int64_t min, int64_t max,
                                    std::string_view error) {
  std::optional<int64_t> value = ParseInteger(text, min, max);
  if (!value.has_value()) return Status::InvalidArgument(std::string(error));
  return *value;
}

// The words of `line`, separated by spaces or tabs.
inline std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> words;
  while (!(line = Trim(line)).empty()) {
    size_t space = line.find_first_of(" \t");
    words.push_back(line.substr(0, space));
    line = space == std::string_view::npos ? "" : line.substr(space);
  }
  return words;
}

}  // namespace otpgate

#endif  // OTPGATE_SRC_TEXT_UTIL_H_
