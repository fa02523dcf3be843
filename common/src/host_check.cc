// SPDX-License-Identifier: GPL-2.0-or-later
#include "otpgate/host_check.h"

#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "otpgate/config.h"

namespace otpgate {
namespace {

namespace fs = std::filesystem;

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool IsLink(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Splits one logical PAM line into words; "[...]" is one word without its
// brackets ("\]" inside stands for "]"), as libpam reads it.
std::vector<std::string> PamWords(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::string word;
    if (line[i] == '[') {
      for (++i; i < line.size() && line[i] != ']'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == ']') ++i;
        word += line[i];
      }
      ++i;  // the closing bracket
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') word += line[i++];
    }
    words.push_back(std::move(word));
  }
  return words;
}

bool IsOtpgateModule(const std::string& module) {
  size_t slash = module.find_last_of('/');
  return module.substr(slash == std::string::npos ? 0 : slash + 1) == "pam_otpgate.so";
}

std::string JoinArguments(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

void CheckPamFile(const HostLayout& host, std::string_view module_dir, const std::string& service,
                  std::vector<HostProblem>& problems) {
  std::string file = "/etc/pam.d/" + service;
  for (const PamModuleLine& line : FindPamOtpgateLines(ReadText(host.Path(file)))) {
    std::string where = file + " line " + std::to_string(line.line_number);
    std::string module =
        line.module.front() == '/' ? line.module : std::string(module_dir) + "/" + line.module;
    if (!Exists(host.Path(module))) {
      problems.push_back({where + " loads " + module + ", which does not exist",
                          "apt-get install libpam-otpgate, or take the line out (otpgate disable "
                          "sshd for the line it added)"});
    }
    Config config;
    for (const std::string& argument : line.arguments) {
      if (argument.rfind("config=", 0) == 0) {
        if (!Exists(host.Path(argument.substr(7)))) {
          problems.push_back({where + ": " + argument + " names a file that does not exist",
                              "give the path of the shared configuration file"});
        }
        continue;
      }
      Status valid = ApplyArgument(config, argument);
      if (!valid.ok()) {
        problems.push_back({where + " (" + JoinArguments(line.arguments) + "): " + valid.message(),
                            "correct the argument; pam_otpgate(8) lists them"});
      }
    }
  }
}

// The path named by the first active "$INCLUDE ...dictionary.otpgate" line.
std::string IncludedDictionary(const std::string& dictionary_text) {
  std::istringstream lines(dictionary_text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string keyword, path;
    words >> keyword >> path;
    if ((keyword == "$INCLUDE" || keyword == "$INCLUDE-") &&
        path.find("dictionary.otpgate") != std::string::npos) {
      return path.front() == '/' ? path : std::string(kRaddbDir) + "/" + path;
    }
  }
  return "";
}

// Calls fn(words, first line number) for each logical line of a pam.d file:
// comments dropped, "\" continuations joined. (libpam 1.5 differs in
// corners no stack we check uses: blanks after a "\", comment lines
// inside a continuation.)
template <typename Fn>
void ForEachPamLine(std::string_view text, Fn&& fn) {
  std::string logical;
  int number = 0, first_number = 0;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    ++number;
    if (logical.empty()) first_number = number;
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    if (!line.empty() && line.back() == '\\') {
      logical += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    logical += line;
    std::vector<std::string> words = PamWords(logical);
    logical.clear();
    if (!words.empty()) fn(words, first_number);
  }
}

// Type and control words as libpam compares them: without case, and the
// type without the '-' that only silences a missing module.
std::string PamKeyword(std::string_view word) {
  if (!word.empty() && word.front() == '-') word.remove_prefix(1);
  std::string lower(word);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

// "@include common-auth", or an auth line that includes it or runs it as
// a substack (by name or as /etc/pam.d/common-auth).
bool IncludesCommonAuth(std::string_view text) {
  bool includes = false;
  ForEachPamLine(text, [&](const std::vector<std::string>& words, int) {
    if (words.size() >= 2 && words[0] == "@include" && words[1] == "common-auth") includes = true;
    if (words.size() < 3 || PamKeyword(words[0]) != "auth") return;
    const std::string control = PamKeyword(words[1]);
    if ((control == "include" || control == "substack") &&
        (words[2] == "common-auth" || words[2] == "/etc/pam.d/common-auth")) {
      includes = true;
    }
  });
  return includes;
}

}  // namespace

std::vector<PamModuleLine> FindPamOtpgateLines(std::string_view text) {
  std::vector<PamModuleLine> found;
  ForEachPamLine(text, [&](const std::vector<std::string>& words, int number) {
    if (words.size() < 3 || words[0].front() == '@' || !IsOtpgateModule(words[2])) return;
    found.push_back({number,
                     PamKeyword(words[0]),
                     PamKeyword(words[1]),
                     words[2],
                     {words.begin() + 3, words.end()}});
  });
  return found;
}

bool PamModuleLine::RequiresTheCode() const {
  return type == "auth" && (control == "required" || control == "requisite");
}

SshdCodeSources SshdCodeSourcesOf(const HostLayout& host) {
  std::string stack = ReadText(host.Path(kPamSshd));
  SshdCodeSources sources;
  for (const PamModuleLine& line : FindPamOtpgateLines(stack)) {
    sources.own_line = sources.own_line || line.type == "auth";
  }
  if (!IncludesCommonAuth(stack)) return sources;
  for (const PamModuleLine& line :
       FindPamOtpgateLines(ReadText(host.Path("/etc/pam.d/common-auth")))) {
    sources.common_auth = sources.common_auth || line.type == "auth";
    sources.common_auth_requires = sources.common_auth_requires || line.RequiresTheCode();
  }
  return sources;
}

std::vector<HostProblem> CheckPamStacks(const HostLayout& host, std::string_view module_dir) {
  std::vector<HostProblem> problems;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(host.Path("/etc/pam.d"), ec)) {
    std::string name = entry.path().filename().string();
    // dpkg's and editors' leftovers are not services libpam reads by name.
    if (!entry.is_regular_file() || name.find(".dpkg-") != std::string::npos ||
        name.back() == '~') {
      continue;
    }
    CheckPamFile(host, module_dir, name, problems);
  }
  return problems;
}

std::vector<HostProblem> CheckSshd(const HostLayout& host) {
  std::vector<HostProblem> problems;
  const SshdCodeSources asks = SshdCodeSourcesOf(host);
  const bool drop_in = Exists(host.Path(kSshdDropIn));
  const bool sshd_installed = Exists(host.Path(kSshdConfig));
  if (asks.any() && sshd_installed && !drop_in) {
    problems.push_back({std::string(kPamSshd) + " asks for a one-time password but " + kSshdDropIn +
                            " is missing: a client using the \"password\" method "
                            "sends the login password where the code is expected",
                        "otpgate enable sshd (or set KbdInteractiveAuthentication yes and "
                        "AuthenticationMethods keyboard-interactive in sshd_config)"});
  }
  if (asks.own_line && asks.common_auth) {
    problems.push_back({std::string(kPamSshd) +
                            " asks for the one-time password twice, in its own pam_otpgate line "
                            "and through common-auth (pam-auth-update's otpgate profile): a login "
                            "without a token is decided and logged twice",
                        "keep one: pam-auth-update --disable otpgate, or take the line out of " +
                            std::string(kPamSshd) +
                            " (if otpgate enable sshd added it: otpgate disable sshd && otpgate "
                            "enable sshd, which with the profile on writes only the drop-in)"});
  }
  // `enable sshd` wrote the drop-in alone because common-auth required the
  // code; a stack without either (the profile disabled since, or made
  // optional) lets ssh logins through on the password.
  if (drop_in && sshd_installed && !asks.own_line && !asks.common_auth_requires) {
    problems.push_back({std::string(kSshdDropIn) +
                            " makes sshd authenticate through PAM alone, but " + kPamSshd +
                            " requires no one-time password: ssh logins have no second factor",
                        "pam-auth-update --enable otpgate, or otpgate disable sshd && otpgate "
                        "enable sshd"});
  }
  return problems;
}

bool RadiusModuleEnabled(const HostLayout& host) {
  return IsLink(host.Path(std::string(kRaddbDir) + "/mods-enabled/otpgate")) ||
         Exists(host.Path(std::string(kRaddbDir) + "/mods-enabled/otpgate"));
}

std::vector<HostProblem> CheckRadius(const HostLayout& host, std::string_view module_dir) {
  std::vector<HostProblem> problems;
  const std::string raddb = kRaddbDir;
  const std::string fix_disable = "otpgate disable radius, or apt-get install freeradius-otpgate";
  for (const char* link : {"/mods-enabled/otpgate", "/sites-enabled/otpgate"}) {
    std::string path = raddb + link;
    if (IsLink(host.Path(path)) && !Exists(host.Path(path))) {
      problems.push_back({path + " is a dangling link: FreeRADIUS will not start", fix_disable});
    }
  }
  std::string included = IncludedDictionary(ReadText(host.Path(raddb + "/dictionary")));
  if (!included.empty() && !Exists(host.Path(included))) {
    problems.push_back({raddb + "/dictionary includes " + included +
                            ", which does not exist: FreeRADIUS will not start",
                        fix_disable});
  }
  bool module_enabled = RadiusModuleEnabled(host);
  if (module_enabled) {
    std::string module = std::string(module_dir) + "/rlm_otpgate.so";
    if (!Exists(host.Path(module))) {
      problems.push_back(
          {raddb + "/mods-enabled/otpgate loads " + module + ", which does not exist",
           fix_disable});
    }
    if (included.empty()) {
      problems.push_back({raddb + "/dictionary does not include dictionary.otpgate: the "
                                  "module's attributes are unknown",
                          "add '$INCLUDE " + std::string(kOtpgateDictionary) + "' to " + raddb +
                              "/dictionary (otpgate enable radius does)"});
    }
  }
  if (Exists(host.Path(raddb + "/sites-enabled/otpgate")) && !module_enabled) {
    problems.push_back({raddb + "/sites-enabled/otpgate calls the otpgate module, which is not "
                                "enabled",
                        "ln -s ../mods-available/otpgate " + raddb +
                            "/mods-enabled/otpgate (otpgate enable radius does)"});
  }
  return problems;
}

}  // namespace otpgate
