#include "external_sorter.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <queue>

namespace otpgate {
namespace {

constexpr size_t kHeaderBytes = 2 * sizeof(uint32_t);  // key length, value length

struct EntryView {
  std::string_view key;
  std::span<const uint8_t> value;
};

// The entry whose header starts at `at` (the bytes are known to be whole).
EntryView EntryAt(const char* at) {
  uint32_t key_length, value_length;
  std::memcpy(&key_length, at, sizeof key_length);
  std::memcpy(&value_length, at + sizeof key_length, sizeof value_length);
  const char* key = at + kHeaderBytes;
  return {
      std::string_view(key, key_length),
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key) + key_length, value_length)};
}

}  // namespace

std::string TemporaryDirectory() {
  const char* tmpdir = std::getenv("TMPDIR");
  if (tmpdir != nullptr && tmpdir[0] == '/') return tmpdir;
  return "/var/tmp";
}

// Reads one run of the file back, entry by entry, through a buffer.
class ExternalSorter::RunReader {
 public:
  RunReader(int fd, Run run, size_t buffer_bytes)
      : fd_(fd), next_offset_(run.offset), left_(run.bytes), buffer_(buffer_bytes) {}

  // Reads the next entry into current(); false at the end of the run.
  Result<bool> Next() {
    if (left_ == 0 && pos_ == end_) return false;
    char header[kHeaderBytes];
    OTPGATE_RETURN_IF_ERROR(Take(header, sizeof header));
    uint32_t key_length, value_length;
    std::memcpy(&key_length, header, sizeof key_length);
    std::memcpy(&value_length, header + sizeof key_length, sizeof value_length);
    entry_.resize(kHeaderBytes + key_length + value_length);
    std::memcpy(entry_.data(), header, sizeof header);
    OTPGATE_RETURN_IF_ERROR(Take(entry_.data() + kHeaderBytes, key_length + value_length));
    return true;
  }
  EntryView current() const { return EntryAt(entry_.data()); }

 private:
  Status Take(char* out, size_t bytes) {
    while (bytes > 0) {
      if (pos_ == end_) OTPGATE_RETURN_IF_ERROR(Fill());
      size_t n = std::min(bytes, end_ - pos_);
      std::memcpy(out, buffer_.data() + pos_, n);
      out += n;
      pos_ += n;
      bytes -= n;
    }
    return Status::Ok();
  }
  Status Fill() {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left_, buffer_.size()));
    if (want == 0) return Status::Internal("a sorted run ends inside an entry");
    ssize_t got;
    do {
      got = ::pread(fd_, buffer_.data(), want, static_cast<off_t>(next_offset_));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
      return Status::Unavailable(std::string("reading back the import's temporary file: ") +
                                 (got < 0 ? std::strerror(errno) : "unexpected end"));
    }
    next_offset_ += static_cast<uint64_t>(got);
    left_ -= static_cast<uint64_t>(got);
    pos_ = 0;
    end_ = static_cast<size_t>(got);
    return Status::Ok();
  }

  int fd_;
  uint64_t next_offset_;
  uint64_t left_;  // bytes of the run not yet in the buffer
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
  std::vector<char> entry_;
};

ExternalSorter::ExternalSorter(std::string directory, size_t run_bytes, size_t expected_entries)
    : directory_(std::move(directory)),
      run_bytes_(run_bytes),
      expected_entries_(expected_entries) {}

ExternalSorter::~ExternalSorter() = default;

Status ExternalSorter::Add(std::string_view key, std::span<const uint8_t> value) {
  if (sealed_) return Status::Internal("ExternalSorter::Add after ForEach");
  OTPGATE_RETURN_IF_ERROR(broken_);
  const size_t bytes = kHeaderBytes + key.size() + value.size();
  if (key.size() > UINT32_MAX || value.size() > UINT32_MAX || bytes > UINT32_MAX) {
    return Status::InvalidArgument("an entry too large to sort");
  }
  if (!run_.empty() && run_.size() + bytes > run_bytes_) OTPGATE_RETURN_IF_ERROR(WriteRun());
  if (run_.size() + bytes > UINT32_MAX) return Status::InvalidArgument("a run too large to sort");
  const uint32_t key_length = static_cast<uint32_t>(key.size());
  const uint32_t value_length = static_cast<uint32_t>(value.size());
  offsets_.push_back(static_cast<uint32_t>(run_.size()));
  const size_t at = run_.size();
  run_.resize(at + bytes);
  char* out = run_.data() + at;
  std::memcpy(out, &key_length, sizeof key_length);
  std::memcpy(out + sizeof key_length, &value_length, sizeof value_length);
  std::memcpy(out + kHeaderBytes, key.data(), key.size());
  if (!value.empty()) std::memcpy(out + kHeaderBytes + key.size(), value.data(), value.size());
  ++entries_;
  return Status::Ok();
}

void ExternalSorter::SortRun() {
  const char* base = run_.data();
  std::sort(offsets_.begin(), offsets_.end(), [base](uint32_t a, uint32_t b) {
    return EntryAt(base + a).key < EntryAt(base + b).key;
  });
}

Status ExternalSorter::OpenFile() {
  // Unnamed: nobody can open it by a name, and it needs no removal;
  // O_EXCL: nor can it ever be given one (linkat).
  file_ = UniqueFd(::open(directory_.c_str(), O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
  if (!file_ && (errno == EOPNOTSUPP || errno == EISDIR)) {  // a file system without O_TMPFILE
    std::string name = directory_ + "/otpgate-import-XXXXXX";
    file_ = UniqueFd(::mkostemp(name.data(), O_CLOEXEC));  // mode 0600
    if (file_ && ::unlink(name.c_str()) != 0) {
      return Status::Unavailable("cannot remove the name of temporary file " + name + ": " +
                                 std::strerror(errno));
    }
  }
  if (!file_) {
    return Status::Unavailable("cannot create a temporary file in " + directory_ + ": " +
                               std::strerror(errno) + " (set TMPDIR to another directory)");
  }
  return Status::Ok();
}

Status ExternalSorter::CheckRoom() {
  if (offsets_.empty()) return Status::Ok();
  struct statvfs fs;
  if (::fstatvfs(file_.get(), &fs) != 0) {
    return Status::Unavailable("cannot tell the free space in " + directory_ + ": " +
                               std::strerror(errno));
  }
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  // Known: room for every entry not yet written, at this run's average size;
  // unknown: for this run.
  const uint64_t average = static_cast<uint64_t>(run_.size()) / offsets_.size();
  const uint64_t needed = expected_entries_ > spilled_entries_ + offsets_.size()
                              ? average * (expected_entries_ - spilled_entries_)
                              : static_cast<uint64_t>(run_.size());
  if (free_bytes < needed + kTemporarySpaceReserve) {
    const std::string need =
        expected_entries_ > 0
            ? "about " + std::to_string(needed >> 20) + " MiB of temporary space"
            : std::to_string(needed >> 20) + " MiB more of temporary space for its next run (" +
                  std::to_string(file_bytes_ >> 20) + " MiB written so far)";
    return Status::Unavailable(
        "the import needs " + need + " in " + directory_ + ", which would leave less than " +
        std::to_string(kTemporarySpaceReserve >> 20) + " MiB free there (" +
        std::to_string(free_bytes >> 20) + " MiB free; set TMPDIR to another directory)");
  }
  return Status::Ok();
}

Status ExternalSorter::WriteRun() {
  broken_ = AppendRun();
  return broken_;
}

Status ExternalSorter::AppendRun() {
  if (!file_) OTPGATE_RETURN_IF_ERROR(OpenFile());
  OTPGATE_RETURN_IF_ERROR(CheckRoom());
  SortRun();
  // Written in sorted order through one buffer, so that each run is one
  // sequential stretch of the file.
  std::vector<char> out;
  out.reserve(std::min<size_t>(run_.size(), 1 << 20));
  const uint64_t start = file_bytes_;
  auto flush = [&]() -> Status {
    if (out.empty()) return Status::Ok();
    if (WriteFully(file_.get(), out.data(), out.size()) != 0) {
      return Status::Unavailable("cannot write a temporary file in " + directory_ + ": " +
                                 std::strerror(errno) + " (set TMPDIR to another directory)");
    }
    file_bytes_ += out.size();
    out.clear();
    return Status::Ok();
  };
  for (uint32_t offset : offsets_) {
    EntryView entry = EntryAt(run_.data() + offset);
    const char* from = run_.data() + offset;
    out.insert(out.end(), from, from + kHeaderBytes + entry.key.size() + entry.value.size());
    if (out.size() >= (1 << 20)) OTPGATE_RETURN_IF_ERROR(flush());
  }
  OTPGATE_RETURN_IF_ERROR(flush());
  runs_.push_back({start, file_bytes_ - start});
  spilled_entries_ += offsets_.size();
  run_.clear();
  offsets_.clear();
  return Status::Ok();
}

Status ExternalSorter::ForEach(
    const std::function<Status(std::string_view key, std::span<const uint8_t> value)>& visit) {
  OTPGATE_RETURN_IF_ERROR(broken_);
  if (!sealed_) {
    if (runs_.empty()) {
      SortRun();  // all in memory: no file
    } else if (!run_.empty()) {
      OTPGATE_RETURN_IF_ERROR(WriteRun());
    }
    if (!runs_.empty()) {  // the merge below needs none of it
      std::vector<char>().swap(run_);
      std::vector<uint32_t>().swap(offsets_);
    }
    sealed_ = true;
  }
  if (runs_.empty()) {
    for (uint32_t offset : offsets_) {
      EntryView entry = EntryAt(run_.data() + offset);
      OTPGATE_RETURN_IF_ERROR(visit(entry.key, entry.value));
    }
    return Status::Ok();
  }
  // A k-way merge: each run's buffer shares one run's worth of memory (at
  // least 64 KiB, at most 1 MiB each).
  const size_t buffer_bytes = std::clamp<size_t>(run_bytes_ / runs_.size(), 64 << 10, 1 << 20);
  std::vector<RunReader> readers;
  readers.reserve(runs_.size());
  auto later = [&readers](size_t a, size_t b) {
    return readers[a].current().key > readers[b].current().key;
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heads(later);
  for (const Run& run : runs_) {
    readers.emplace_back(file_.get(), run, buffer_bytes);
    OTPGATE_ASSIGN_OR_RETURN(bool any, readers.back().Next());
    if (any) heads.push(readers.size() - 1);
  }
  while (!heads.empty()) {
    size_t index = heads.top();
    heads.pop();
    EntryView entry = readers[index].current();
    OTPGATE_RETURN_IF_ERROR(visit(entry.key, entry.value));
    OTPGATE_ASSIGN_OR_RETURN(bool more, readers[index].Next());
    if (more) heads.push(index);
  }
  return Status::Ok();
}

}  // namespace otpgate
