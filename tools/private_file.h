// Files the CLI writes that hold secrets (exports, key URIs, QR images).
#ifndef OTPGATE_TOOLS_PRIVATE_FILE_H_
#define OTPGATE_TOOLS_PRIVATE_FILE_H_

#include <string>

#include "otpgate/status.h"

namespace otpgate::cli {

// A new file only its owner can read (mode 0600); never follows or replaces
// an existing path. Synced to disk before it returns Ok.
Status WritePrivateFile(const std::string& path, const std::string& bytes);

// The QR images a command was asked for (--qr-png / --qr-svg), of `uri`.
struct QrFiles {
  std::string png, svg;
};
Status WriteQrFiles(const QrFiles& files, const std::string& uri);

}  // namespace otpgate::cli

#endif  // OTPGATE_TOOLS_PRIVATE_FILE_H_
