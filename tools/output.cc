#include "output.h"

#include <ctime>

namespace otpgate::cli {

std::string JsonEscape(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

Fields& Fields::Add(std::string_view key, std::string_view value) {
  fields_.push_back({std::string(key), std::string(value), JsonEscape(value)});
  return *this;
}

Fields& Fields::Add(std::string_view key, int64_t value) {
  fields_.push_back({std::string(key), std::to_string(value), std::to_string(value)});
  return *this;
}

Fields& Fields::AddRaw(std::string_view key, std::string raw_json) {
  fields_.push_back({std::string(key), raw_json, raw_json});
  return *this;
}

std::string Fields::ToJson() const {
  std::string out = "{";
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (i > 0) out += ",";
    out += JsonEscape(fields_[i].key) + ":" + fields_[i].json;
  }
  return out + "}";
}

std::string Fields::ToText() const {
  size_t width = 0;
  for (const Field& f : fields_) width = std::max(width, f.key.size());
  std::string out;
  for (const Field& f : fields_) {
    out += f.key + ":" + std::string(width - f.key.size() + 1, ' ') + f.text + "\n";
  }
  return out;
}

std::string FormatTime(int64_t epoch_seconds) {
  if (epoch_seconds == 0) return "-";
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace otpgate::cli
