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
  Fields& AddRaw(std::string_view key, std::string raw_json);  // arrays, objects, booleans
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

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_OUTPUT_H_
