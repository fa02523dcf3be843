// QR codes for the terminal (libqrencode), so a phone can scan a new token.
#ifndef OTPGATE_TOOLS_QR_H_
#define OTPGATE_TOOLS_QR_H_

#include <string>

namespace otpgate::cli {

// Renders `text` as a QR code with Unicode half blocks (two modules per
// character cell), dark on light with the 4-module quiet zone. Empty on
// failure.
std::string RenderQr(const std::string& text);

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_QR_H_
