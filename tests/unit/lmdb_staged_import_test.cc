// Who runs a staged import, and whether it still runs (lmdb_staged_import.h).
#include "lmdb_staged_import.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace otpgate {
namespace {

TEST(StagedImportTest, EntriesRoundTripAndMalformedOnesAreCorrupt) {
  StagedImport import;
  import.phase = StagedImport::Phase::kPublished;
  import.owner = ThisProcess().value();
  import.steps = 7;
  import.renewed_at = 1'800'000'000;
  std::vector<uint8_t> bytes = EncodeStagedImport(import);
  StagedImport back = DecodeStagedImport(bytes).value();
  EXPECT_EQ(back.phase, import.phase);
  EXPECT_EQ(back.owner.pid, import.owner.pid);
  EXPECT_EQ(back.owner.start_ticks, import.owner.start_ticks);
  EXPECT_EQ(back.owner.pid_namespace, import.owner.pid_namespace);
  EXPECT_EQ(back.owner.boot_id, import.owner.boot_id);
  EXPECT_EQ(back.steps, 7u);
  EXPECT_EQ(back.renewed_at, 1'800'000'000);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(DecodeStagedImport({bytes.data(), n}).status().code(), StatusCode::kCorrupt);
  }
  bytes[0] = 4;  // no such phase
  EXPECT_EQ(DecodeStagedImport(bytes).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(StagedImportNumber(StagedImportKey(0x1234abcd)), 0x1234abcdu);
  EXPECT_FALSE(StagedImportNumber("staged-import/12").has_value());
  EXPECT_FALSE(StagedImportNumber("staged-import-last").has_value());
}

// An import's label lives apart from its entry, whose 49-byte form every
// release since staging reads.
TEST(StagedImportTest, LabelsRoundTripAndMalformedOnesAreCorrupt) {
  ImportLabel label{.label = "1800000000-42-0badcafe", .closed = true};
  ImportLabel back = DecodeImportLabel(EncodeImportLabel(label)).value();
  EXPECT_EQ(back.label, label.label);
  EXPECT_TRUE(back.closed);
  EXPECT_EQ(DecodeImportLabel(EncodeImportLabel({})).value().label, "");
  EXPECT_EQ(DecodeImportLabel({}).status().code(), StatusCode::kCorrupt);
  std::vector<uint8_t> odd_flag = EncodeImportLabel(label);
  odd_flag[0] = 2;
  EXPECT_EQ(DecodeImportLabel(odd_flag).status().code(), StatusCode::kCorrupt);
  ImportLabel longest{.label = std::string(300, 'x')};
  EXPECT_EQ(DecodeImportLabel(EncodeImportLabel(longest)).value().label.size(), kMaxImportLabel);
  std::vector<uint8_t> too_long(2 + kMaxImportLabel, 'x');
  too_long[0] = 0;
  EXPECT_EQ(DecodeImportLabel(too_long).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(StagedImportLabelKey(0x1234abcd), "staged-import-label/000000001234abcd");
  EXPECT_FALSE(StagedImportNumber(StagedImportLabelKey(1)).has_value());
  EXPECT_EQ(EncodeStagedImport(StagedImport{}).size(), 49u) << "unchanged since staging began";
}

TEST(StagedImportTest, ThisProcessRunsAnExitedOrZombieOneIsGone) {
  ProcessIdentity self = ThisProcess().value();
  EXPECT_EQ(self.pid, ::getpid());
  EXPECT_NE(self.start_ticks, 0u);
  EXPECT_EQ(LivenessOf(self), Liveness::kRunning);
  ProcessIdentity reused = self;
  ++reused.start_ticks;  // the same PID, another process
  EXPECT_EQ(LivenessOf(reused), Liveness::kGone);

  // A child that exited but was not waited for: a zombie, then no process.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ProcessIdentity child = ThisProcess().value();
    (void)!::write(ready[1], &child, sizeof child);
    _exit(0);
  }
  ProcessIdentity child;
  ASSERT_EQ(::read(ready[0], &child, sizeof child), static_cast<ssize_t>(sizeof child));
  ::close(ready[0]);
  ::close(ready[1]);
  EXPECT_EQ(child.pid, pid);
  for (int i = 0; i < 200 && LivenessOf(child) == Liveness::kRunning; ++i) ::usleep(10000);
  EXPECT_EQ(LivenessOf(child), Liveness::kGone) << "a zombie runs no import";
  ::waitpid(pid, nullptr, 0);
  EXPECT_EQ(LivenessOf(child), Liveness::kGone);

  ProcessIdentity elsewhere = self;
  ++elsewhere.pid_namespace;
  EXPECT_EQ(LivenessOf(elsewhere), Liveness::kUnknown) << "another PID namespace";
  ProcessIdentity rebooted = self;
  rebooted.boot_id[0] ^= 1;
  EXPECT_EQ(LivenessOf(rebooted), Liveness::kGone);
}

TEST(StagedImportTest, AnImportThatCannotBeJudgedIsAbandonedWhenItsLeaseRunsOut) {
  StagedImport import;
  import.owner = ThisProcess().value();
  ++import.owner.pid_namespace;
  import.renewed_at = 1'800'000'000;
  EXPECT_FALSE(Abandoned(import, import.renewed_at + kStagedImportLease));
  EXPECT_TRUE(Abandoned(import, import.renewed_at + kStagedImportLease + 1));
  import.owner = ThisProcess().value();  // running: the lease does not matter
  EXPECT_FALSE(Abandoned(import, import.renewed_at + 10 * kStagedImportLease));
  import.phase = StagedImport::Phase::kPublished;
  EXPECT_FALSE(Abandoned(import, import.renewed_at + 10 * kStagedImportLease));
  import.phase = StagedImport::Phase::kAbandoned;
  EXPECT_TRUE(Abandoned(import, 0));
}

}  // namespace
}  // namespace otpgate
