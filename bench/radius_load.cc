// A RADIUS load generator for the benchmarks: sends Access-Requests
// (User-Name, User-Password, Message-Authenticator) to one server over UDP,
// keeping a fixed number in flight, and counts the answers.
//
// Why not radclient: radclient polls its socket once for every request in its
// list on every pass (a select(2) per request), so while it waits for a
// server it burns a core; on a 2-core machine that core is taken from the
// server under test, and a server that waits on something (a commit, a
// database) is slowed by the client. This client sleeps in poll(2) while it
// waits and spends a few microseconds per request.
//
//   radius_load HOST:PORT SECRET IN_FLIGHT FILE
// FILE: one request per line, "user<TAB>password". Prints, like radclient -s,
//   Accepted : N / Rejected : N / Lost : N, and the seconds from the first
//   send to the last answer. Exit 0 if every request was answered, 1 if some
//   were lost or an answer was forged, 2 on a usage or setup error.
// A request not answered within 10 s is lost (no retransmission).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTimeout = std::chrono::seconds(10);
constexpr uint8_t kAccessRequest = 1, kAccessAccept = 2, kAccessReject = 3;
constexpr uint8_t kUserName = 1, kUserPassword = 2, kMessageAuthenticator = 80;

struct Request {
  std::string user, password;
};

struct Slot {
  bool busy = false;
  Clock::time_point sent;
  std::array<uint8_t, 16> authenticator{};
};

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

std::array<uint8_t, 16> Md5(const std::vector<uint8_t>& data) {
  std::array<uint8_t, 16> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr);
  return out;
}

void AddAttribute(std::vector<uint8_t>& packet, uint8_t type, const uint8_t* value, size_t size) {
  packet.push_back(type);
  packet.push_back(static_cast<uint8_t>(size + 2));
  packet.insert(packet.end(), value, value + size);
}

// RFC 2865, 5.2: the password padded to 16-byte blocks, each XORed with
// MD5(secret + previous block), the first with the request authenticator.
std::vector<uint8_t> HidePassword(const std::string& password, const std::string& secret,
                                  const std::array<uint8_t, 16>& authenticator) {
  std::vector<uint8_t> hidden(password.begin(), password.end());
  hidden.resize((password.size() + 15) / 16 * 16 + (password.empty() ? 16 : 0), 0);
  const uint8_t* previous = authenticator.data();
  for (size_t block = 0; block < hidden.size(); block += 16) {
    std::vector<uint8_t> input(secret.begin(), secret.end());
    input.insert(input.end(), previous, previous + 16);
    std::array<uint8_t, 16> mask = Md5(input);
    for (size_t i = 0; i < 16; ++i) hidden[block + i] ^= mask[i];
    previous = &hidden[block];
  }
  return hidden;
}

std::vector<uint8_t> AccessRequest(const Request& r, uint8_t id, const std::string& secret,
                                   const std::array<uint8_t, 16>& authenticator) {
  std::vector<uint8_t> packet = {kAccessRequest, id, 0, 0};
  packet.insert(packet.end(), authenticator.begin(), authenticator.end());
  AddAttribute(packet, kUserName, reinterpret_cast<const uint8_t*>(r.user.data()), r.user.size());
  std::vector<uint8_t> hidden = HidePassword(r.password, secret, authenticator);
  AddAttribute(packet, kUserPassword, hidden.data(), hidden.size());
  const size_t mac_at = packet.size() + 2;
  const std::array<uint8_t, 16> zero{};
  AddAttribute(packet, kMessageAuthenticator, zero.data(), zero.size());
  packet[2] = static_cast<uint8_t>(packet.size() >> 8);
  packet[3] = static_cast<uint8_t>(packet.size() & 0xff);
  unsigned int len = 0;
  HMAC(EVP_md5(), secret.data(), static_cast<int>(secret.size()), packet.data(), packet.size(),
       &packet[mac_at], &len);
  return packet;
}

// RFC 2865, 3: MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
bool AuthenticResponse(const uint8_t* reply, size_t size, const std::string& secret,
                       const std::array<uint8_t, 16>& request_authenticator) {
  if (size < 20 || ((reply[2] << 8) | reply[3]) != static_cast<int>(size)) return false;
  std::vector<uint8_t> input(reply, reply + 4);
  input.insert(input.end(), request_authenticator.begin(), request_authenticator.end());
  input.insert(input.end(), reply + 20, reply + size);
  input.insert(input.end(), secret.begin(), secret.end());
  std::array<uint8_t, 16> expected = Md5(input);
  return std::memcmp(expected.data(), reply + 4, 16) == 0;
}

bool ParseServer(const std::string& text, sockaddr_in& out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<uint16_t>(std::stoi(text.substr(colon + 1))));
  return inet_pton(AF_INET, text.substr(0, colon).c_str(), &out.sin_addr) == 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s HOST:PORT SECRET IN_FLIGHT FILE\n", argv[0]);
    return 2;
  }
  sockaddr_in server{};
  const std::string secret = argv[2];
  const int in_flight = std::atoi(argv[3]);
  if (!ParseServer(argv[1], server) || in_flight < 1 || in_flight > 255) {
    std::fprintf(stderr, "radius_load: bad server or in-flight count (1-255)\n");
    return 2;
  }
  std::vector<Request> requests;
  std::ifstream in(argv[4]);
  for (std::string line; std::getline(in, line);) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    requests.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  if (!in.eof() || requests.empty()) {
    std::fprintf(stderr, "radius_load: no requests read from %s\n", argv[4]);
    return 2;
  }
  Socket sock(socket(AF_INET, SOCK_DGRAM, 0));
  if (sock.fd() < 0 ||
      connect(sock.fd(), reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) {
    std::perror("radius_load: socket");
    return 2;
  }
  std::array<Slot, 256> slots{};
  size_t next = 0, outstanding = 0, accepted = 0, rejected = 0, lost = 0, forged = 0;
  uint8_t next_id = 0;
  const Clock::time_point start = Clock::now();
  while (next < requests.size() || outstanding > 0) {
    while (next < requests.size() && outstanding < static_cast<size_t>(in_flight)) {
      while (slots[next_id].busy) ++next_id;
      Slot& slot = slots[next_id];
      RAND_bytes(slot.authenticator.data(), 16);
      std::vector<uint8_t> packet =
          AccessRequest(requests[next], next_id, secret, slot.authenticator);
      if (send(sock.fd(), packet.data(), packet.size(), 0) != static_cast<ssize_t>(packet.size())) {
        std::perror("radius_load: send");
        return 2;
      }
      slot.busy = true;
      slot.sent = Clock::now();
      ++next_id;
      ++next;
      ++outstanding;
    }
    // Wait for an answer until the oldest request in flight times out.
    Clock::time_point oldest = Clock::time_point::max();
    for (const Slot& s : slots) {
      if (s.busy && s.sent < oldest) oldest = s.sent;
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(oldest + kTimeout - Clock::now());
    pollfd pfd{sock.fd(), POLLIN, 0};
    const int ready = poll(&pfd, 1, wait.count() > 0 ? static_cast<int>(wait.count()) : 0);
    if (ready > 0) {
      uint8_t reply[4096];
      const ssize_t got = recv(sock.fd(), reply, sizeof reply, 0);
      if (got >= 20 && slots[reply[1]].busy) {
        Slot& slot = slots[reply[1]];
        if (!AuthenticResponse(reply, static_cast<size_t>(got), secret, slot.authenticator)) {
          ++forged;
          continue;
        }
        if (reply[0] == kAccessAccept) ++accepted;
        if (reply[0] == kAccessReject) ++rejected;
        slot.busy = false;
        --outstanding;
      }
      continue;
    }
    const Clock::time_point now = Clock::now();
    for (Slot& s : slots) {
      if (s.busy && now - s.sent >= kTimeout) {
        s.busy = false;
        --outstanding;
        ++lost;
      }
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("Accepted      : %zu\nRejected      : %zu\nLost          : %zu\n", accepted, rejected,
              lost);
  if (forged > 0) std::printf("Forged        : %zu\n", forged);
  std::printf("Seconds       : %.3f\n", seconds);
  return lost == 0 && forged == 0 ? 0 : 1;
}
