#include "output.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace otpgate::cli {

std::string JsonEscape(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
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

Fields& Fields::AddBool(std::string_view key, bool value) {
  return AddRaw(key, value ? "true" : "false");
}

Fields& Fields::AddOptional(std::string_view key, std::string_view value) {
  if (value.empty()) return AddRaw(key, "null", "-");
  return Add(key, value);
}

Fields& Fields::AddTime(std::string_view key, int64_t epoch_seconds) {
  if (epoch_seconds == 0) return AddRaw(key, "null", "-");
  return Add(key, FormatTime(epoch_seconds));
}

Fields& Fields::AddRaw(std::string_view key, std::string raw_json, std::string text) {
  fields_.push_back({std::string(key), std::move(text), std::move(raw_json)});
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

std::string JsonArray(const std::vector<Fields>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ",";
    out += items[i].ToJson();
  }
  return out + "]";
}

ParsedTime ParseTime(std::string_view text) {
  std::string s(text);
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() <= 12) {
    return {true, std::stoll(s)};
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed) !=
      3) {
    return {};
  }
  if (static_cast<size_t>(consumed) < s.size()) {
    int more = 0;
    if (std::sscanf(s.c_str() + consumed, "T%2d:%2d:%2dZ%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                    &more) != 3 ||
        static_cast<size_t>(consumed + more) != s.size()) {
      return {};
    }
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970) {
    return {};
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return {true, static_cast<int64_t>(timegm(&tm))};
}

}  // namespace otpgate::cli
