// The blocking client's name resolution is bounded (ResolveWithin): a resolver that does not
// answer in time is left behind and the caller gets an error naming the host and the bound.
#include "control/blocking_http.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>

namespace sluice::control {
namespace {

TEST(ResolveWithinTest, AnAddressIsParsedAtOnce) {
  std::string error;
  addrinfo* found = ResolveWithin("127.0.0.1", "80", 1000, &error);
  ASSERT_NE(found, nullptr) << error;
  EXPECT_EQ(found->ai_family, AF_INET);
  freeaddrinfo(found);
}

TEST(ResolveWithinTest, ASilentResolverIsLeftBehindAtTheBound) {
  // The resolver answers only when the test lets it (after the caller gave up), with an
  // address the abandoned lookup must free (ASan's leak check sees it if not).
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  auto slow = [released](const std::string&, const std::string& service, const addrinfo& hints,
                         addrinfo** found) {
    released.wait();
    return getaddrinfo("127.0.0.1", service.c_str(), &hints, found);
  };
  std::string error;
  const int64_t start = SteadyMs();
  EXPECT_EQ(ResolveWithin("s3.example", "9000", 100, &error, slow), nullptr);
  const int64_t waited = SteadyMs() - start;
  EXPECT_GE(waited, 100);
  EXPECT_LT(waited, 5000);  // the bound, not the resolver, ended the wait
  EXPECT_EQ(error, "cannot resolve s3.example: no answer within 100 ms");
  release->set_value();
}

TEST(ResolveWithinTest, AFailureNamesTheHostAndWhy) {
  auto none = [](const std::string&, const std::string&, const addrinfo&, addrinfo**) {
    return EAI_NONAME;
  };
  std::string error;
  EXPECT_EQ(ResolveWithin("nowhere.example", "80", 1000, &error, none), nullptr);
  EXPECT_EQ(error, std::string("cannot resolve nowhere.example: ") + gai_strerror(EAI_NONAME));
}

TEST(ResolveWithinTest, ConnectBlockingNamesAnUnresolvableHost) {
  std::string error;
  // ".invalid" never resolves (RFC 6761): an NXDOMAIN, or no answer at all on a machine
  // without a name server; either way the call ends within the bound, naming the host.
  EXPECT_EQ(ConnectBlocking("sluice-test.invalid", 80, 2000, &error), -1);
  EXPECT_EQ(error.rfind("cannot resolve sluice-test.invalid", 0), 0u) << error;
}

}  // namespace
}  // namespace sluice::control
