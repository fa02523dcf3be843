#include "qr.h"

#include <qrencode.h>

#include <memory>

namespace otpgate::cli {

std::string RenderQr(const std::string& text) {
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (!code) {
    return "";
  }
  const int width = code->width;
  const int quiet = 4;
  auto dark = [&](int x, int y) {
    x -= quiet;
    y -= quiet;
    if (x < 0 || y < 0 || x >= width || y >= width) return false;
    return (code->data[y * width + x] & 1) != 0;
  };
  // Light background: print light modules as blocks, dark ones as blanks, so
  // the code reads on dark terminals too (scanners need dark-on-light).
  std::string out;
  const int size = width + 2 * quiet;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      bool top = !dark(x, y);
      bool bottom = y + 1 < size && !dark(x, y + 1);
      if (top && bottom) out += "\u2588";
      else if (top) out += "\u2580";
      else if (bottom) out += "\u2584";
      else out += " ";
    }
    out += "\n";
  }
  return out;
}

}  // namespace otpgate::cli
