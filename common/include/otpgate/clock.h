// Time is injected: the core never calls time() behind the caller's back.
// Each request reads its clock exactly once and passes the value down.
#ifndef OTPGATE_CLOCK_H_
#define OTPGATE_CLOCK_H_

#include <cstdint>

namespace otpgate {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch.
  virtual int64_t Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t Now() const override;
};

// For tests and tools: a clock that says what it is told.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now) : now_(now) {}
  int64_t Now() const override { return now_; }
  void Set(int64_t now) { now_ = now; }
  void Advance(int64_t seconds) { now_ += seconds; }

 private:
  int64_t now_;
};

}  // namespace otpgate

#endif  // OTPGATE_CLOCK_H_
