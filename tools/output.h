// Output of the CLI: the same facts as aligned text for people or as one
// JSON object per command for scripts (--json).
#ifndef OTPGATE_TOOLS_OUTPUT_H_
#define OTPGATE_TOOLS_OUTPUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpgate::cli {

std::string JsonEscape(std::string_view text);

// An ordered list of fields; values are strings, numbers or raw JSON.
class Fields {
 public:
  Fields& Add(std::string_view key, std::string_view value);
  Fields& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  Fields& Add(std::string_view key, int64_t value);
  Fields& AddBool(std::string_view key, bool value);  // true/false in JSON and text
  // Absent values: "-" in text, null in JSON (an empty string, a time of 0).
  Fields& AddOptional(std::string_view key, std::string_view value);
  Fields& AddTime(std::string_view key, int64_t epoch_seconds);  // FormatTime, null for 0
  Fields& AddRaw(std::string_view key, std::string raw_json);    // arrays, objects
  // `raw_json` in JSON, `text` in text output.
  Fields& AddRaw(std::string_view key, std::string raw_json, std::string text);
  std::string ToJson() const;
  std::string ToText() const;  // "key: value" lines

 private:
  struct Field {
    std::string key;
    std::string text;
    std::string json;
  };
  std::vector<Field> fields_;
};

std::string FormatTime(int64_t epoch_seconds);  // ISO 8601 UTC, "-" for 0

// A JSON array of the objects in `items`.
std::string JsonArray(const std::vector<Fields>& items);

// A time given on the command line: epoch seconds, or ISO 8601 UTC
// ("2026-11-27", "2026-11-27T21:41:05Z"). kInvalidArgument with a short
// message otherwise.
struct ParsedTime {
  bool ok = false;
  int64_t value = 0;
};
ParsedTime ParseTime(std::string_view text);

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_OUTPUT_H_
