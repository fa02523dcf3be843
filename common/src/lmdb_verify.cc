#include "lmdb_verify.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace otpgate {
namespace {

// LMDB 0.9 on-disk layout (64-bit pgno_t), from mdb.c.
constexpr uint32_t kMagic = 0xBEEFC0DE;
constexpr uint32_t kDataVersion = 1;
constexpr size_t kPageHeader = 16;  // pgno(8) pad(2) flags(2) lower(2) upper(2)
constexpr size_t kNodeHeader = 8;   // lo(2) hi(2) flags(2) ksize(2)
constexpr size_t kDbRecord = 48;    // MDB_db
constexpr uint16_t kBranch = 0x01, kLeaf = 0x02, kOverflow = 0x04, kMeta = 0x08, kLeaf2 = 0x20,
                   kSubPage = 0x40;
constexpr uint16_t kBigData = 0x01, kSubData = 0x02, kDupData = 0x04;
constexpr uint16_t kDupSort = 0x04, kDupFixed = 0x10;
constexpr uint64_t kInvalidPage = ~uint64_t{0};
constexpr int kMaxDepth = 32;

uint16_t U16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t U32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t U64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

struct Db {
  uint16_t flags = 0;
  uint64_t root = kInvalidPage;
};
Db DbAt(const uint8_t* p) { return Db{U16(p + 4), U64(p + 40)}; }

class Walker {
 public:
  Walker(int fd, const std::string& path, uint64_t file_bytes)
      : fd_(fd), path_(path), file_bytes_(file_bytes) {}

  Status Start(uint64_t want_txnid, Db& free_db, Db& main_db) {
    uint8_t meta[2][kPageHeader + 136];
    uint64_t best_txnid = 0;
    int best = -1;
    psize_ = 0;
    for (int i = 0; i < 2; ++i) {
      uint64_t offset = i == 0 ? 0 : psize_;
      if (i == 1 && psize_ == 0) break;
      OTPGATE_RETURN_IF_ERROR(ReadAt(offset, meta[i], sizeof(meta[i])));
      const uint8_t* m = meta[i] + kPageHeader;
      if ((U16(meta[i] + 10) & kMeta) == 0 || U32(m) != kMagic || U32(m + 4) != kDataVersion) {
        return Corrupt("meta page " + std::to_string(i) + " is damaged");
      }
      if (i == 0) {
        psize_ = U32(m + 24);
        if (psize_ < 512 || psize_ > 65536 || (psize_ & (psize_ - 1)) != 0) {
          return Corrupt("meta page 0 has an impossible page size");
        }
      }
      uint64_t txnid = U64(m + 128);
      if ((want_txnid != 0 && txnid == want_txnid) ||
          (want_txnid == 0 && (best < 0 || txnid > best_txnid))) {
        best = i;
        best_txnid = txnid;
      }
    }
    if (best < 0) {
      return Corrupt("no meta page holds transaction " + std::to_string(want_txnid));
    }
    const uint8_t* m = meta[best] + kPageHeader;
    pages_ = U64(m + 120) + 1;
    if (pages_ < 2 || pages_ > (uint64_t{1} << 48)) {
      return Corrupt("meta page has an impossible last page");
    }
    file_pages_ = file_bytes_ / psize_;
    if (file_pages_ < 2) {
      return Corrupt("it is truncated (" + std::to_string(file_bytes_) + " bytes)");
    }
    seen_.assign(std::min(pages_, file_pages_), false);
    seen_[0] = seen_[1] = true;
    needed_ = 2 * uint64_t{psize_};
    free_db = DbAt(m + 24);
    main_db = DbAt(m + 24 + kDbRecord);
    return Status::Ok();
  }

  // Walks the tree rooted at db.root. In the main database, named
  // databases (F_SUBDATA) are walked too.
  Status WalkDb(const Db& db, bool is_main) {
    if (db.root == kInvalidPage) return Status::Ok();
    if ((db.flags & kDupFixed) != 0) return Corrupt("unexpected MDB_DUPFIXED database");
    return WalkPage(db.root, (db.flags & kDupSort) != 0, is_main, 0);
  }

  uint64_t needed() const { return needed_; }
  uint64_t checked() const { return checked_; }

 private:
  Status Corrupt(const std::string& what) const {
    return Status::Corrupt("store file " + path_ + " is damaged: " + what +
                           " (restore it from a backup)");
  }

  Status ReadAt(uint64_t offset, uint8_t* buffer, size_t size) {
    if (offset + size > file_bytes_) {
      return Corrupt("it is truncated (" + std::to_string(file_bytes_) + " bytes, needs " +
                     std::to_string(offset + size) + ")");
    }
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::pread(fd_, buffer + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return n == 0 ? Corrupt("it is truncated")
                      : Status::Unavailable("store file " + path_ + ": " + std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  // Claims pages [pgno, pgno + count) for one owner.
  Status Claim(uint64_t pgno, uint64_t count) {
    if (pgno < 2 || count == 0 || pgno >= pages_ || count > pages_ - pgno) {
      return Corrupt("page number " + std::to_string(pgno) + " is out of range");
    }
    if (pgno + count > file_pages_) {
      return Corrupt("it is truncated: page " + std::to_string(pgno + count - 1) +
                     " lies past its end (" + std::to_string(file_bytes_) + " bytes)");
    }
    for (uint64_t p = pgno; p < pgno + count; ++p) {
      if (seen_[p]) return Corrupt("page " + std::to_string(p) + " is reachable twice");
      seen_[p] = true;
    }
    needed_ = std::max(needed_, (pgno + count) * psize_);
    return Status::Ok();
  }

  Status CheckOverflow(uint64_t pgno, uint64_t data_size) {
    uint8_t header[kPageHeader];
    if (pgno < 2 || pgno >= std::min(pages_, file_pages_)) {
      return Corrupt("overflow page " + std::to_string(pgno) + " is out of range");
    }
    OTPGATE_RETURN_IF_ERROR(ReadAt(pgno * psize_, header, sizeof(header)));
    uint32_t count = U32(header + 12);
    if (U64(header) != pgno || (U16(header + 10) & kOverflow) == 0 ||
        uint64_t{count} * psize_ < data_size + kPageHeader) {
      return Corrupt("overflow page " + std::to_string(pgno) + " has a bad header");
    }
    return Claim(pgno, count);
  }

  // Checks a page's header and node table; `base` is its bytes, `size` its
  // length (a page, or an inline DUPSORT sub-page). Fills `nodes`.
  Status CheckNodes(const uint8_t* base, size_t size, uint16_t flags, const std::string& where,
                    std::vector<uint16_t>& nodes) {
    uint16_t lower = U16(base + 12), upper = U16(base + 14);
    if ((flags & kLeaf2) != 0) return Corrupt(where + " is an unexpected MDB_DUPFIXED page");
    if (lower < kPageHeader || upper < lower || upper > size || (lower & 1) != 0) {
      return Corrupt(where + " has bad free-space bounds");
    }
    size_t count = (lower - kPageHeader) / 2;
    if ((flags & kBranch) != 0 && count == 0) return Corrupt(where + " is an empty branch");
    nodes.clear();
    for (size_t i = 0; i < count; ++i) {
      uint16_t at = U16(base + kPageHeader + 2 * i);
      if (at < upper || at > size - kNodeHeader || (at & 1) != 0) {
        return Corrupt(where + " has a node outside its page");
      }
      const uint8_t* node = base + at;
      size_t end = at + kNodeHeader + U16(node + 6);
      if ((flags & kLeaf) != 0) {
        uint32_t data = U16(node) | uint32_t{U16(node + 2)} << 16;
        end += (U16(node + 4) & kBigData) != 0 ? 8 : data;
      }
      if (end > size) return Corrupt(where + " has a node running past its page");
      nodes.push_back(at);
    }
    return Status::Ok();
  }

  Status WalkPage(uint64_t pgno, bool dupsort, bool is_main, int depth) {
    std::string where = "page " + std::to_string(pgno);
    if (depth > kMaxDepth) return Corrupt(where + " is too deep in its tree");
    OTPGATE_RETURN_IF_ERROR(Claim(pgno, 1));
    std::vector<uint8_t> page(psize_);
    OTPGATE_RETURN_IF_ERROR(ReadAt(pgno * psize_, page.data(), psize_));
    ++checked_;
    uint16_t flags = U16(page.data() + 10);
    bool branch = (flags & kBranch) != 0, leaf = (flags & kLeaf) != 0;
    if (U64(page.data()) != pgno || branch == leaf || (flags & (kOverflow | kMeta)) != 0) {
      return Corrupt(where + " has a bad header");
    }
    std::vector<uint16_t> nodes;
    OTPGATE_RETURN_IF_ERROR(CheckNodes(page.data(), psize_, flags, where, nodes));
    for (uint16_t at : nodes) {
      const uint8_t* node = page.data() + at;
      uint16_t lo = U16(node), hi = U16(node + 2), nflags = U16(node + 4), ksize = U16(node + 6);
      if (branch) {
        uint64_t child = lo | uint64_t{hi} << 16 | uint64_t{nflags} << 32;
        OTPGATE_RETURN_IF_ERROR(WalkPage(child, dupsort, is_main, depth + 1));
        continue;
      }
      uint32_t data_size = lo | uint32_t{hi} << 16;
      const uint8_t* data = node + kNodeHeader + ksize;
      if ((nflags & kBigData) != 0) {
        OTPGATE_RETURN_IF_ERROR(CheckOverflow(U64(data), data_size));
      } else if ((nflags & kSubData) != 0) {
        // A named database in main, or the duplicates of one key.
        if (data_size != kDbRecord || !(is_main || dupsort)) {
          return Corrupt(where + " has a bad sub-database record");
        }
        Db sub = DbAt(data);
        if ((sub.flags & kDupFixed) != 0) return Corrupt("unexpected MDB_DUPFIXED database");
        if (sub.root != kInvalidPage) {
          OTPGATE_RETURN_IF_ERROR(
              WalkPage(sub.root, is_main && (sub.flags & kDupSort) != 0, false, depth + 1));
        }
      } else if ((nflags & kDupData) != 0) {
        if (!dupsort || data_size < kPageHeader)
          return Corrupt(where + " has a bad duplicate list");
        uint16_t sub_flags = U16(data + 10);
        if ((sub_flags & (kLeaf | kSubPage)) != (kLeaf | kSubPage)) {
          return Corrupt(where + " has a bad duplicate sub-page");
        }
        std::vector<uint16_t> dups;
        OTPGATE_RETURN_IF_ERROR(
            CheckNodes(data, data_size, sub_flags, where + " (duplicates)", dups));
      }
    }
    return Status::Ok();
  }

  int fd_;
  const std::string& path_;
  uint64_t file_bytes_;
  uint32_t psize_ = 0;
  uint64_t pages_ = 0;
  uint64_t needed_ = 0;
  uint64_t checked_ = 0;
  uint64_t file_pages_ = 0;
  std::vector<bool> seen_;
};

}  // namespace

Result<LmdbFileFacts> VerifyLmdbFile(int fd, const std::string& path, uint64_t txnid) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status::Unavailable("store file " + path + ": " + std::strerror(errno));
  }
  Walker walker(fd, path, static_cast<uint64_t>(st.st_size));
  Db free_db, main_db;
  OTPGATE_RETURN_IF_ERROR(walker.Start(txnid, free_db, main_db));
  OTPGATE_RETURN_IF_ERROR(walker.WalkDb(free_db, false));
  OTPGATE_RETURN_IF_ERROR(walker.WalkDb(main_db, true));
  return LmdbFileFacts{walker.needed(), walker.checked()};
}

}  // namespace otpgate
