#include "qr.h"

#include <png.h>
#include <qrencode.h>

#include <memory>
#include <vector>

namespace otpgate::cli {
namespace {

constexpr int kQuietZone = 4;

// The code as a square of booleans (true = dark), quiet zone included.
class QrMatrix {
 public:
  static Result<QrMatrix> Encode(const std::string& text) {
    std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
        QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
    if (!code)
      return Status::InvalidArgument("the text cannot be encoded as a QR code (too long?)");
    QrMatrix m;
    m.width_ = code->width;
    m.modules_.assign(code->data, code->data + code->width * code->width);
    return m;
  }
  int size() const { return width_ + 2 * kQuietZone; }
  bool dark(int x, int y) const {
    x -= kQuietZone;
    y -= kQuietZone;
    if (x < 0 || y < 0 || x >= width_ || y >= width_) return false;
    return (modules_[static_cast<size_t>(y * width_ + x)] & 1) != 0;
  }

 private:
  int width_ = 0;
  std::vector<unsigned char> modules_;
};

void AppendToString(png_structp png, png_bytep data, png_size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))
      ->append(reinterpret_cast<const char*>(data), length);
}

}  // namespace

Result<TerminalQr> ParseTerminalQr(const std::string& name) {
  if (name == "ansi") return TerminalQr::kAnsi;
  if (name == "dark") return TerminalQr::kDarkBackground;
  if (name == "light") return TerminalQr::kLightBackground;
  return Status::InvalidArgument("terminal QR style must be ansi, dark or light");
}

std::string RenderQr(const std::string& text, TerminalQr style) {
  auto m = QrMatrix::Encode(text);
  if (!m.ok()) return "";
  // Which modules are drawn as the character's foreground: with ANSI
  // colours the foreground is black on a white background.
  const bool draw_dark = style != TerminalQr::kDarkBackground;
  std::string out;
  const int size = m->size();
  for (int y = 0; y < size; y += 2) {
    if (style == TerminalQr::kAnsi) out += "\x1b[30;47m";  // black on white
    for (int x = 0; x < size; ++x) {
      bool top = m->dark(x, y) == draw_dark;
      bool bottom = y + 1 < size ? m->dark(x, y + 1) == draw_dark : !draw_dark;
      if (top && bottom)
        out += "\u2588";
      else if (top)
        out += "\u2580";
      else if (bottom)
        out += "\u2584";
      else
        out += " ";
    }
    if (style == TerminalQr::kAnsi) out += "\x1b[0m";
    out += "\n";
  }
  return out;
}

Result<std::string> RenderQrPng(const std::string& text, int scale) {
  OTPGATE_ASSIGN_OR_RETURN(QrMatrix m, QrMatrix::Encode(text));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  // png_destroy_write_struct frees both, whatever was created.
  struct Guard {
    png_structp* png;
    png_infop* info;
    ~Guard() { png_destroy_write_struct(png, info); }
  } guard{&png, &info};
  if (png == nullptr || info == nullptr) return Status::Internal("libpng: out of memory");
  std::string out;
  const int pixels = m.size() * scale;
  std::vector<png_byte> row(static_cast<size_t>((pixels + 7) / 8));
  if (setjmp(png_jmpbuf(png)) != 0) return Status::Internal("libpng failed to write the image");
  png_set_write_fn(png, &out, AppendToString, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(pixels), static_cast<png_uint_32>(pixels), 1,
               PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < pixels; ++y) {
    std::fill(row.begin(), row.end(), 0);
    for (int x = 0; x < pixels; ++x) {
      if (!m.dark(x / scale, y / scale))
        row[static_cast<size_t>(x / 8)] |= static_cast<png_byte>(0x80 >> (x % 8));
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  return out;
}

Result<std::string> RenderQrSvg(const std::string& text) {
  OTPGATE_ASSIGN_OR_RETURN(QrMatrix m, QrMatrix::Encode(text));
  const std::string size = std::to_string(m.size());
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
      "version=\"1.1\" viewBox=\"0 0 " +
      size + " " + size + "\" width=\"" + std::to_string(m.size() * 8) + "\" height=\"" +
      std::to_string(m.size() * 8) +
      "\" shape-rendering=\"crispEdges\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
      "<path fill=\"#000\" d=\"";
  for (int y = 0; y < m.size(); ++y) {
    for (int x = 0; x < m.size(); ++x) {
      if (m.dark(x, y)) out += "M" + std::to_string(x) + " " + std::to_string(y) + "h1v1h-1z";
    }
  }
  out += "\"/>\n</svg>\n";
  return out;
}

}  // namespace otpgate::cli
