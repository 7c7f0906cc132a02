// gtest main shared by every test: ignores SIGPIPE so a peer closing mid-write is an error code,
// as it is in the binaries.
#include <csignal>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}
