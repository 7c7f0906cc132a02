// The bearer token follows the kubelet's rotations: at once when the file changes, at the latest
// a minute after the last read, and after the server refused it; a failed re-read keeps the last
// good token (client-go's cachingTokenSource).
#include "kube/token_source.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace remora::kube {
namespace {

using remora::testing::TestDir;
using remora::testing::WriteFileOrDie;

class TokenSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = TestDir(absl::StrCat("token-", info->name())) + "/token";
    WriteFileOrDie(path_, "first\n");
  }
  // Replaces the file the way the kubelet's atomic writer does: a new file renamed over it.
  void Rotate(const std::string& token) {
    WriteFileOrDie(path_ + ".new", token);
    ASSERT_EQ(::rename((path_ + ".new").c_str(), path_.c_str()), 0);
  }
  // Rewrites the file in place with the same size and modification time: a change no stat sees.
  void OverwriteUnseen(const std::string& token) {
    struct stat before;
    ASSERT_EQ(::stat(path_.c_str(), &before), 0);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_TRUNC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, token.data(), token.size()), static_cast<ssize_t>(token.size()));
    ::close(fd);
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, path_.c_str(), times, 0), 0);
  }
  std::shared_ptr<TokenSource> FromFile() {
    auto source = TokenSource::FromFile(path_, [this] { return now_; });
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *source : nullptr;
  }

  std::string path_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(TokenSourceTest, AStaticTokenNeverChanges) {
  auto source = TokenSource::Static("abc");
  EXPECT_EQ(source->Token(), "abc");
  source->Invalidate();
  EXPECT_EQ(source->Token(), "abc");
  EXPECT_EQ(source->path(), "");
}

TEST_F(TokenSourceTest, ReadsTheFileTrimmed) { EXPECT_EQ(FromFile()->Token(), "first"); }

TEST_F(TokenSourceTest, PicksUpARotationAtOnce) {
  auto source = FromFile();
  Rotate("second");
  EXPECT_EQ(source->Token(), "second");
}

TEST_F(TokenSourceTest, RereadsAfterAMinuteEvenWhenTheFileLooksUnchanged) {
  auto source = FromFile();
  OverwriteUnseen("third\n");
  now_ += absl::Seconds(59);
  EXPECT_EQ(source->Token(), "first");
  now_ += absl::Seconds(1);
  EXPECT_EQ(source->Token(), "third");
}

TEST_F(TokenSourceTest, RereadsAfterTheServerRefusedTheToken) {
  auto source = FromFile();
  OverwriteUnseen("fixed\n");
  EXPECT_EQ(source->Token(), "first");
  source->Invalidate();
  EXPECT_EQ(source->Token(), "fixed");
}

TEST_F(TokenSourceTest, KeepsTheLastTokenWhenTheFileGoesAway) {
  auto source = FromFile();
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  now_ += absl::Minutes(2);
  EXPECT_EQ(source->Token(), "first");
  Rotate("back");
  EXPECT_EQ(source->Token(), "back");
}

TEST_F(TokenSourceTest, KeepsTheLastTokenWhenTheFileBecomesEmpty) {
  auto source = FromFile();
  Rotate("  \n");
  EXPECT_EQ(source->Token(), "first");
}

TEST_F(TokenSourceTest, RefusesAMissingFile) {
  auto source = TokenSource::FromFile(path_ + "-absent");
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().message(),
            absl::StrCat("token file ", path_, "-absent: No such file or directory"));
}

TEST_F(TokenSourceTest, RefusesAFileOfSeveralLines) {
  WriteFileOrDie(path_, "a\nb\n");
  auto source = TokenSource::FromFile(path_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().message(),
            absl::StrCat("token file ", path_,
                         " holds several lines; it should hold one bearer "
                         "token"));
}

TEST_F(TokenSourceTest, RefusesAnOversizedFile) {
  WriteFileOrDie(path_, std::string(TokenSource::kMaxTokenBytes + 1, 'x'));
  auto source = TokenSource::FromFile(path_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().message(), absl::StrCat("token file ", path_,
                                                    ": 65537 bytes is over the limit of 65536; it "
                                                    "should hold one bearer token"));
}

}  // namespace
}  // namespace remora::kube
