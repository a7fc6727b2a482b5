// Tests for a (re)load as the server does it — snapshot::SnapshotCompiler with the data
// plane's ListenerSockets opened as its last step: target counters carried across builds,
// draining of deregistered targets with an injected clock (deadline, persistence,
// re-registration, expiry, Snapshot::DrainExpired), compiled enums, listening sockets reused
// across builds, and failed builds that leave the previous state in force.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/listener_sockets.h"

namespace sluice::proxy {
namespace {

int64_t g_now_ms = 0;
int64_t FakeNow() { return g_now_ms; }

// A port that was free a moment ago.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A plain listening socket (no SO_REUSEPORT) holding `port`, so that Listen() fails.
int Occupy(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(listen(fd, 4), 0);
  return fd;
}

bool FdOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

struct TargetSpec {
  std::string group;
  int port;
};

// One load balancer with one listener on 127.0.0.1:listen_port forwarding to group "tg";
// targets are 127.0.0.1:<port>.
config::Config MakeConfig(int listen_port, const std::vector<int>& target_ports,
                          int delay_seconds = 300, bool checks = true) {
  config::Config cfg;
  config::TargetGroup tg;
  tg.name = "tg";
  tg.port = 80;
  tg.health_check.enabled = checks;
  tg.attributes.deregistration_delay_seconds = delay_seconds;
  for (int p : target_ports) tg.targets.push_back({"127.0.0.1", p, {}});
  cfg.target_groups.push_back(tg);

  config::Action forward;
  forward.type = config::ActionType::kForward;
  forward.forward.target_groups.push_back({"tg", 1, -1});
  config::Listener l;
  l.bind_address = "127.0.0.1";
  l.port = listen_port;
  l.default_actions.push_back(forward);
  config::LoadBalancer lb;
  lb.name = "lb";
  lb.listeners.push_back(l);
  cfg.load_balancers.push_back(lb);
  return cfg;
}

// A snapshot and its listening sockets, as published to the workers.
struct Built {
  std::shared_ptr<const Snapshot> snap;
  std::shared_ptr<const ListenerSocketTable> sockets;
  const Snapshot* operator->() const { return snap.get(); }
  const Snapshot& operator*() const { return *snap; }
  explicit operator bool() const { return snap != nullptr; }
  void reset() {
    snap.reset();
    sockets.reset();
  }
  std::shared_ptr<ListenSocketSet> listener_sockets(size_t i) const {
    return sockets->by_listener.at(i);
  }
};

// What app/server.cc does on every (re)load.
class SnapshotBuilder {
 public:
  SnapshotBuilder(int workers, int64_t (*now_ms)()) : compiler_(now_ms), sockets_(workers) {}
  Result<Built> Build(config::Config cfg) {
    Built out;
    auto open = [&](const Snapshot& s) -> Result<bool> {
      auto table = sockets_.Open(s);
      if (!table.ok()) return table.error();
      out.sockets = table.value();
      return true;
    };
    auto r = compiler_.Build(std::move(cfg), open);
    if (!r.ok()) return r.error();
    out.snap = r.value();
    return out;
  }

 private:
  SnapshotCompiler compiler_;
  ListenerSockets sockets_;
};

Built MustBuild(SnapshotBuilder& b, config::Config cfg) {
  auto r = b.Build(std::move(cfg));
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r.value() : Built{};
}

std::shared_ptr<balancer::TargetStats> StatsOf(const Snapshot& s, int port) {
  for (const TargetRuntime& t : s.target_groups.at(0).targets) {
    if (t.address.port == port) return t.stats;
  }
  return nullptr;
}

class SnapshotBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_now_ms = 1'000'000;
    port_ = FreePort();
  }
  SnapshotBuilder builder_{2, &FakeNow};
  int port_ = 0;
};

TEST_F(SnapshotBuilderTest, CompilesGroupsListenersAndForwardIndices) {
  auto s = MustBuild(builder_, MakeConfig(port_, {9001, 9002}));
  ASSERT_TRUE(s);
  ASSERT_EQ(s->target_groups.size(), 1u);
  const TargetGroupRuntime& tg = s->target_groups[0];
  EXPECT_EQ(tg.config, &s->config.target_groups[0]);
  ASSERT_EQ(tg.targets.size(), 2u);
  ASSERT_EQ(tg.candidates.size(), 2u);
  EXPECT_EQ(tg.targets[0].address.ToString(), "127.0.0.1:9001");
  EXPECT_EQ(tg.targets[1].address.ToString(), "127.0.0.1:9002");
  EXPECT_EQ(tg.candidates[0], tg.targets[0].stats.get());
  EXPECT_EQ(tg.targets[0].sticky_id, balancer::StickyHash("127.0.0.1:9001"));
  EXPECT_EQ(tg.sticky_id, balancer::StickyHash("tg"));
  EXPECT_NE(tg.lb_cookie_scope, tg.app_cookie_scope);
  ASSERT_EQ(s->listeners.size(), 1u);
  const ListenerRuntime& l = s->listeners[0];
  EXPECT_EQ(l.port_text, std::to_string(port_));
  EXPECT_EQ(l.address.ToString(), "127.0.0.1:" + std::to_string(port_));
  EXPECT_EQ(l.protocol, snapshot::ListenerProtocol::kHttp);
  EXPECT_EQ(tg.protocol, snapshot::TargetProtocol::kHttp);
  EXPECT_EQ(tg.protocol_version, snapshot::ProtocolVersion::kHttp1);
  EXPECT_EQ(tg.stickiness, snapshot::StickinessType::kNone);
  ASSERT_NE(s.listener_sockets(0), nullptr);
  EXPECT_EQ(s.listener_sockets(0)->fds.size(), 2u);  // one per worker
  for (int fd : s.listener_sockets(0)->fds) EXPECT_TRUE(FdOpen(fd));
  EXPECT_EQ(
      s->config.load_balancers[0].listeners[0].default_actions[0].forward.target_groups[0].index,
      0);
  EXPECT_TRUE(s->draining.empty());
  EXPECT_NE(s->sticky_codec, nullptr);
}

TEST_F(SnapshotBuilderTest, NewTargetsAreRoutableAtOnceOnlyWithoutChecks) {
  auto checked = MustBuild(builder_, MakeConfig(port_, {9001}, 300, /*checks=*/true));
  EXPECT_FALSE(StatsOf(*checked, 9001)->routable.load());
  SnapshotBuilder other(1, &FakeNow);
  auto unchecked = MustBuild(other, MakeConfig(FreePort(), {9001}, 300, /*checks=*/false));
  EXPECT_TRUE(StatsOf(*unchecked, 9001)->routable.load());
}

TEST_F(SnapshotBuilderTest, GenerationsIncreaseAndCodecIsShared) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001}));
  auto b = MustBuild(builder_, MakeConfig(port_, {9001}));
  EXPECT_EQ(b->generation, a->generation + 1);
  EXPECT_EQ(a->sticky_codec, b->sticky_codec);  // cookies survive reloads
}

TEST_F(SnapshotBuilderTest, KeptTargetKeepsItsCounters) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001, 9002}));
  StatsOf(*a, 9002)->outstanding.store(7);
  auto b = MustBuild(builder_, MakeConfig(port_, {9002, 9003}));
  EXPECT_EQ(StatsOf(*b, 9002), StatsOf(*a, 9002));
  EXPECT_EQ(StatsOf(*b, 9002)->outstanding.load(), 7);
  EXPECT_NE(StatsOf(*b, 9003), nullptr);
  EXPECT_NE(StatsOf(*b, 9003), StatsOf(*a, 9001));
}

TEST_F(SnapshotBuilderTest, RemovedTargetDrainsUntilNowPlusDelay) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, /*delay=*/30));
  auto removed_stats = StatsOf(*a, 9002);
  removed_stats->routable.store(true);  // as if the checker had found it healthy
  g_now_ms = 2'000'000;
  auto b = MustBuild(builder_, MakeConfig(port_, {9001}, 30));
  ASSERT_EQ(b->draining.size(), 1u);
  const DrainingTarget& d = b->draining[0];
  EXPECT_EQ(d.group, "tg");
  EXPECT_EQ(d.id, "127.0.0.1");
  EXPECT_EQ(d.address.ToString(), "127.0.0.1:9002");
  EXPECT_EQ(d.stats, removed_stats);
  EXPECT_EQ(d.deadline_ms, 2'000'000 + 30'000);
  EXPECT_TRUE(d.check.enabled);
  EXPECT_FALSE(removed_stats->routable.load()) << "a draining target must get no new requests";
  ASSERT_EQ(b->target_groups[0].targets.size(), 1u);
  EXPECT_EQ(b->target_groups[0].targets[0].address.port, 9001);
}

TEST_F(SnapshotBuilderTest, DrainingSurvivesLaterBuildsWithTheSameDeadline) {
  MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 30));
  g_now_ms = 2'000'000;
  MustBuild(builder_, MakeConfig(port_, {9001}, 30));
  g_now_ms = 2'010'000;  // another reload during the delay
  auto c = MustBuild(builder_, MakeConfig(port_, {9001}, 30));
  ASSERT_EQ(c->draining.size(), 1u);
  EXPECT_EQ(c->draining[0].deadline_ms, 2'030'000) << "the delay must not restart";
  g_now_ms = 2'029'999;
  EXPECT_EQ(MustBuild(builder_, MakeConfig(port_, {9001}, 30))->draining.size(), 1u);
  g_now_ms = 2'030'000;  // expired: still listed (as expired) for a grace period...
  auto d = MustBuild(builder_, MakeConfig(port_, {9001}, 30));
  ASSERT_EQ(d->draining.size(), 1u);
  EXPECT_TRUE(d->DrainExpired(d->draining[0].stats.get(), g_now_ms));
  g_now_ms = 2'030'000 + 60'000;  // ...then gone from the next snapshot
  EXPECT_TRUE(MustBuild(builder_, MakeConfig(port_, {9001}, 30))->draining.empty());
}

TEST_F(SnapshotBuilderTest, ZeroDelayEndsRequestsAtOnce) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 0));
  auto removed = StatsOf(*a, 9002);
  auto b = MustBuild(builder_, MakeConfig(port_, {9001}, 0));
  ASSERT_EQ(b->draining.size(), 1u);
  EXPECT_TRUE(b->DrainExpired(removed.get(), g_now_ms)) << "a zero delay expires immediately";
}

TEST_F(SnapshotBuilderTest, ReaddingADrainingTargetRestoresItsStats) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 30));
  auto original = StatsOf(*a, 9002);
  original->outstanding.store(3);  // requests still in flight while it drains
  g_now_ms += 1000;
  auto b = MustBuild(builder_, MakeConfig(port_, {9001}, 30));
  ASSERT_EQ(b->draining.size(), 1u);
  g_now_ms += 1000;
  auto c = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 30));
  EXPECT_TRUE(c->draining.empty());
  EXPECT_EQ(StatsOf(*c, 9002), original);
  EXPECT_EQ(original->outstanding.load(), 3);
  EXPECT_FALSE(c->DrainExpired(original.get(), g_now_ms + 3'600'000));
  // Removing it again starts a new delay from now.
  g_now_ms += 5000;
  auto d = MustBuild(builder_, MakeConfig(port_, {9001}, 30));
  ASSERT_EQ(d->draining.size(), 1u);
  EXPECT_EQ(d->draining[0].deadline_ms, g_now_ms + 30'000);
  EXPECT_EQ(d->draining[0].stats, original);
}

TEST_F(SnapshotBuilderTest, ReaddingAfterExpiryIsANewTarget) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 30));
  auto original = StatsOf(*a, 9002);
  MustBuild(builder_, MakeConfig(port_, {9001}, 30));
  g_now_ms += 31'000 + 60'000;                         // past the delay and the grace period
  MustBuild(builder_, MakeConfig(port_, {9001}, 30));  // drain over
  auto c = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 30));
  EXPECT_NE(StatsOf(*c, 9002), original);
}

TEST_F(SnapshotBuilderTest, DrainExpired) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 30));
  auto kept = StatsOf(*a, 9001);
  auto gone = StatsOf(*a, 9002);
  g_now_ms = 5'000'000;
  auto b = MustBuild(builder_, MakeConfig(port_, {9001}, 30));
  EXPECT_FALSE(b->DrainExpired(gone.get(), 5'000'000));
  EXPECT_FALSE(b->DrainExpired(gone.get(), 5'029'999));
  EXPECT_TRUE(b->DrainExpired(gone.get(), 5'030'000));
  EXPECT_TRUE(b->DrainExpired(gone.get(), 9'000'000));
  EXPECT_FALSE(b->DrainExpired(kept.get(), 9'000'000));
  balancer::TargetStats unknown;
  EXPECT_FALSE(b->DrainExpired(&unknown, 9'000'000));
  EXPECT_FALSE(a->DrainExpired(gone.get(), 9'000'000)) << "the older snapshot knows no drain";
}

// Workers end expired requests on their 250 ms tick by asking the newest snapshot. A reload
// that lands after the deadline but before that tick must not let the requests still open
// on the drained target escape (reference §2.4: requests still open at the end of the delay
// are terminated).
TEST_F(SnapshotBuilderTest, ExpiredDrainStillEndsRequestsAfterALaterReload) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 2));
  auto gone = StatsOf(*a, 9002);
  g_now_ms = 5'000'000;
  auto b = MustBuild(builder_, MakeConfig(port_, {9001}, 2));
  ASSERT_TRUE(b->DrainExpired(gone.get(), 5'002'000));
  gone->outstanding.store(1);  // a request to it is still open
  g_now_ms = 5'002'100;        // the next reload, 100 ms after the deadline
  auto c = MustBuild(builder_, MakeConfig(port_, {9001}, 2));
  EXPECT_TRUE(c->DrainExpired(gone.get(), 5'002'100))
      << "the open request on the drained target is never ended: the newer snapshot forgot "
         "the drain";
}

TEST_F(SnapshotBuilderTest, ListeningSocketsAreReusedForUnchangedListeners) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001}));
  auto b = MustBuild(builder_, MakeConfig(port_, {9002}));
  EXPECT_EQ(a.listener_sockets(0), b.listener_sockets(0));
  std::vector<int> fds = a.listener_sockets(0)->fds;
  // A different port opens new sockets; the old ones close with the last snapshot using them.
  int port2 = FreePort();
  auto c = MustBuild(builder_, MakeConfig(port2, {9002}));
  EXPECT_NE(c.listener_sockets(0), a.listener_sockets(0));
  for (int fd : fds) EXPECT_TRUE(FdOpen(fd));
  a.reset();
  b.reset();
  for (int fd : fds) EXPECT_FALSE(FdOpen(fd)) << fd;
  // Going back to the first port opens it afresh.
  auto d = MustBuild(builder_, MakeConfig(port_, {9002}));
  EXPECT_EQ(d.listener_sockets(0)->address.port, port_);
  EXPECT_EQ(d.listener_sockets(0)->fds.size(), 2u);
}

TEST_F(SnapshotBuilderTest, BindFailureFailsTheBuildAndKeepsThePreviousState) {
  auto a = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 30));
  auto stats2 = StatsOf(*a, 9002);
  auto sockets = a.listener_sockets(0);
  std::vector<int> fds = sockets->fds;
  int busy = FreePort();
  int holder = Occupy(busy);
  g_now_ms += 1000;
  // Removes 9002 and moves the listener to a port that cannot be bound.
  auto failed = builder_.Build(MakeConfig(busy, {9001}, 30));
  close(holder);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find(std::to_string(busy)), std::string::npos)
      << failed.error().message;
  // The previous snapshot is untouched and still usable.
  EXPECT_EQ(a->target_groups[0].targets.size(), 2u);
  for (int fd : fds) EXPECT_TRUE(FdOpen(fd));
  // Nothing of the failed build was committed: 9002 is not draining and keeps its counters,
  // and the listener keeps its sockets.
  auto b = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 30));
  EXPECT_TRUE(b->draining.empty());
  EXPECT_EQ(StatsOf(*b, 9002), stats2);
  EXPECT_EQ(b.listener_sockets(0), sockets);
  EXPECT_EQ(b.listener_sockets(0)->fds, fds);
}

TEST_F(SnapshotBuilderTest, FailedBuildDoesNotDrainOrForget) {
  // A failed build that removes a target must not mark it draining (not routable).
  auto a = MustBuild(builder_, MakeConfig(port_, {9001, 9002}, 30));
  auto stats2 = StatsOf(*a, 9002);
  stats2->routable.store(true);
  int busy = FreePort();
  int holder = Occupy(busy);
  auto failed = builder_.Build(MakeConfig(busy, {9001}, 30));
  close(holder);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(stats2->routable.load()) << "the failed build took 9002 out of service";
}

TEST_F(SnapshotBuilderTest, BadTargetAndUnknownGroupFailTheBuild) {
  auto good = MustBuild(builder_, MakeConfig(port_, {9001}));
  config::Config bad_target = MakeConfig(port_, {9001});
  bad_target.target_groups[0].targets[0].id = "not-an-ip";
  auto r1 = builder_.Build(bad_target);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.error().message.find("not-an-ip"), std::string::npos) << r1.error().message;
  config::Config unknown = MakeConfig(port_, {9001});
  unknown.load_balancers[0].listeners[0].default_actions[0].forward.target_groups[0].target_group =
      "nope";
  auto r2 = builder_.Build(unknown);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("unknown target group"), std::string::npos);
  // Still building fine, on the same sockets.
  auto next = MustBuild(builder_, MakeConfig(port_, {9001}));
  EXPECT_EQ(next.listener_sockets(0), good.listener_sockets(0));
  EXPECT_EQ(StatsOf(*next, 9001), StatsOf(*good, 9001));
}

TEST_F(SnapshotBuilderTest, EnumsAreCompiledFromTheConfigStrings) {
  config::Config cfg = MakeConfig(port_, {9001});
  cfg.target_groups[0].attributes.stickiness_enabled = true;
  cfg.target_groups[0].attributes.stickiness_type = "app_cookie";
  cfg.target_groups[0].health_check.protocol = "TCP";
  cfg.target_groups[0].protocol_version = "HTTP2";
  auto s = MustBuild(builder_, cfg);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->target_groups[0].stickiness, snapshot::StickinessType::kAppCookie);
  EXPECT_EQ(s->target_groups[0].health_check_protocol, snapshot::HealthCheckProtocol::kTcp);
  EXPECT_EQ(s->target_groups[0].protocol_version, snapshot::ProtocolVersion::kHttp2);
  // A type set but stickiness off: no stickiness at all.
  cfg.target_groups[0].attributes.stickiness_enabled = false;
  EXPECT_EQ(MustBuild(builder_, cfg)->target_groups[0].stickiness, snapshot::StickinessType::kNone);
}

TEST_F(SnapshotBuilderTest, AnUnknownProtocolFailsTheBuild) {
  auto good = MustBuild(builder_, MakeConfig(port_, {9001}));
  config::Config bad = MakeConfig(port_, {9001});
  bad.load_balancers[0].listeners[0].protocol = "FTP";
  auto r = builder_.Build(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("Protocol: unknown value FTP"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace sluice::proxy

namespace sluice::proxy {
namespace {

// The compiler tells the metric slots which load balancer each group serves (for
// TargetResponseTime per load balancer): a group forwarded to by two load balancers' listeners
// counts for none, one no listener uses too.
TEST(SnapshotCompilerMetrics, GroupsKnowTheirLoadBalancer) {
  config::Config cfg = MakeConfig(FreePort(), {9001});
  for (const char* name : {"shared", "idle"}) {
    config::TargetGroup tg = cfg.target_groups[0];
    tg.name = name;
    cfg.target_groups.push_back(tg);
  }
  cfg.load_balancers[0].listeners[0].default_actions[0].forward.target_groups.push_back(
      {"shared", 1, -1});
  config::LoadBalancer other = cfg.load_balancers[0];
  other.name = "other";
  other.listeners[0].port = FreePort();
  other.listeners[0].default_actions[0].forward.target_groups = {{"shared", 1, -1}};
  cfg.load_balancers.push_back(other);
  observe::MetricSlots slots;
  SnapshotCompiler compiler(&FakeNow);
  compiler.set_metric_slots(&slots);
  auto snap = compiler.Build(cfg, nullptr);
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  const std::vector<int> owners = slots.TargetGroupLoadBalancers();
  ASSERT_EQ(owners.size(), 3u);
  EXPECT_EQ(owners[static_cast<size_t>(snap.value()->target_groups[0].metrics_slot)],
            snap.value()->listeners[0].lb_metrics_slot);  // tg: lb's alone
  EXPECT_GE(owners[0], 0);
  EXPECT_EQ(owners[static_cast<size_t>(snap.value()->target_groups[1].metrics_slot)], -1);
  EXPECT_EQ(owners[static_cast<size_t>(snap.value()->target_groups[2].metrics_slot)], -1);
}

}  // namespace
}  // namespace sluice::proxy
