// QR codes of key URIs (libqrencode): for the terminal, so a phone can scan
// a new token, and as PNG (libpng) or SVG images to print in a letter or show
// on a web page. Every form has the 4-module quiet zone scanners need.
// The URI holds the secret: so does every rendering of it.
#ifndef OTPGATE_TOOLS_QR_H_
#define OTPGATE_TOOLS_QR_H_

#include <string>

#include "otpgate/status.h"

namespace otpgate::cli {

// How a terminal QR code gets its dark-on-light contrast (scanners need it):
enum class TerminalQr {
  kAnsi,             // explicit black-on-white ANSI colours: any background
  kDarkBackground,   // no colours; light modules drawn as blocks
  kLightBackground,  // no colours; dark modules drawn as blocks
};
Result<TerminalQr> ParseTerminalQr(const std::string& name);  // "ansi", "dark", "light"

// Unicode half blocks (two modules per character cell). Empty on failure.
std::string RenderQr(const std::string& text, TerminalQr style = TerminalQr::kAnsi);
// A PNG file's bytes: 1-bit greyscale, `scale` pixels per module.
Result<std::string> RenderQrPng(const std::string& text, int scale = 8);
// An SVG document: one path of unit squares, viewBox in modules.
Result<std::string> RenderQrSvg(const std::string& text);

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_QR_H_
