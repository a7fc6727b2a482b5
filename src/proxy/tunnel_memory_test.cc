// WebSocket upgrades through the worker over in-memory streams (MemoryHarness): which
// requests may switch protocols, the 101 relayed, the tunnel's bytes both ways (including
// bytes that arrive before the switch), half-closes, the idle timeout, back-pressure and the
// one record written when the tunnel ends.
#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <string>

#include "nlb/proxy_protocol.h"
#include "proxy/memory_harness.h"

namespace sluice::proxy {
namespace {

constexpr char kConfig[] = R"(LoadBalancers:
  - Name: lb
    Attributes: {idle_timeout.timeout_seconds: "30"}
    Listeners:
      - Protocol: HTTP
        Port: 80
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: app
TargetGroups:
  - Name: app
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}]
)";

constexpr char kUpgrade[] =
    "GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
constexpr char kSwitch[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

class TunnelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = MemoryHarness::Create(kConfig);
    ASSERT_TRUE(h.ok()) << h.error().message;
    h_ = std::move(h.value());
  }
  void Send(net::MemoryTransport* stream, std::string_view bytes) {
    ASSERT_EQ(stream->Write(bytes.data(), bytes.size()).bytes(), bytes.size());
    h_->Run();
  }
  net::MemoryTransport& Target(size_t i) { return *h_->upstreams().at(i).target; }
  // A client whose upgrade the target accepted; the heads are read off both streams.
  net::MemoryTransport* Upgraded() {
    net::MemoryTransport* client = h_->Connect();
    Send(client, kUpgrade);
    EXPECT_EQ(h_->upstreams().size(), 1u);
    Target(0).ReadAll();
    Send(&Target(0), kSwitch);
    std::string head = client->ReadAll();
    EXPECT_EQ(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << head;
    return client;
  }
  std::unique_ptr<MemoryHarness> h_;
};

TEST_F(TunnelTest, TheTargetGetsTheUpgradeAndTheClientTheSwitch) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, kUpgrade);
  std::string sent = Target(0).ReadAll();
  EXPECT_NE(sent.find("\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"), std::string::npos)
      << sent;
  EXPECT_NE(sent.find("\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), std::string::npos);
  EXPECT_NE(sent.find("\r\nX-Forwarded-For: 192.0.2.10\r\n"), std::string::npos);
  Send(&Target(0), kSwitch);
  std::string got = client->ReadAll();
  EXPECT_EQ(got,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_TRUE(h_->records().empty());  // one record, when the WebSocket ends
}

TEST_F(TunnelTest, BytesFlowBothWaysIncludingThoseSentWithTheSwitch) {
  net::MemoryTransport* client = h_->Connect();
  // Frames right behind the upgrade request wait for the switch; frames right behind the
  // 101 are the tunnel's first bytes.
  Send(client, std::string(kUpgrade) + "client-early");
  EXPECT_EQ(Target(0).ReadAll().find("client-early"), std::string::npos);
  Send(&Target(0), std::string(kSwitch) + "target-early");
  std::string got = client->ReadAll();
  EXPECT_EQ(got.substr(got.size() - 12), "target-early") << got;
  EXPECT_EQ(Target(0).ReadAll(), "client-early");
  Send(client, "ping");
  EXPECT_EQ(Target(0).ReadAll(), "ping");
  Send(&Target(0), "pong");
  EXPECT_EQ(client->ReadAll(), "pong");
}

TEST_F(TunnelTest, HalfClosesPassThroughAndTheRecordEndsTheTunnel) {
  net::MemoryTransport* client = Upgraded();
  Send(client, "last words");
  client->ShutdownWrite();
  h_->Run();
  EXPECT_EQ(Target(0).ReadAll(), "last words");
  EXPECT_TRUE(Target(0).at_eof());
  EXPECT_TRUE(h_->records().empty());  // the target may still answer
  Send(&Target(0), "reply after the client's end");
  EXPECT_EQ(client->ReadAll(), "reply after the client's end");
  Target(0).ShutdownWrite();
  h_->Run();
  EXPECT_TRUE(client->at_eof());
  ASSERT_EQ(h_->records().size(), 1u);
  const ExchangeRecord& r = h_->records()[0].record;
  EXPECT_TRUE(r.websocket);
  EXPECT_EQ(r.cause, Cause::kTargetResponse);
  EXPECT_EQ(r.elb_status, 101);
  EXPECT_EQ(r.target_status, 101);
  EXPECT_EQ(r.received_bytes, sizeof(kUpgrade) - 1 + 10);
  EXPECT_GT(r.sent_bytes, 28u + 90u);
}

TEST_F(TunnelTest, DataAndEndOfStreamInOneEventAreBothSeen) {
  // epoll reports bytes and the FIN behind them as one edge: after reading the bytes (a short
  // read) the end of stream must still be read, on both sides.
  net::MemoryTransport* client = Upgraded();
  ASSERT_EQ(client->Write("bye", 3).bytes(), 3u);
  client->ShutdownWrite();
  h_->Run();
  EXPECT_EQ(Target(0).ReadAll(), "bye");
  EXPECT_TRUE(Target(0).at_eof());
  ASSERT_EQ(Target(0).Write("ciao", 4).bytes(), 4u);
  Target(0).ShutdownWrite();
  h_->Run();
  EXPECT_EQ(client->ReadAll(), "ciao");
  EXPECT_TRUE(client->at_eof());
  EXPECT_EQ(h_->records().size(), 1u);
}

TEST_F(TunnelTest, AResetOnEitherSideEndsBoth) {
  net::MemoryTransport* client = Upgraded();
  Target(0).Reset();
  h_->Run();
  EXPECT_TRUE(client->at_eof());  // the client's connection is closed at once
  EXPECT_FALSE(client->Write("x", 1).ok());
  ASSERT_EQ(h_->records().size(), 1u);
  EXPECT_TRUE(h_->records()[0].record.websocket);
}

TEST_F(TunnelTest, TheIdleTimeoutClosesASilentTunnel) {
  net::MemoryTransport* client = Upgraded();
  h_->Advance(20000);
  Send(client, "still here");  // activity restarts the idle timer
  EXPECT_EQ(Target(0).ReadAll(), "still here");
  h_->Advance(29000);
  EXPECT_FALSE(client->at_eof());
  h_->Advance(2000);
  EXPECT_TRUE(client->at_eof());
  EXPECT_TRUE(Target(0).at_eof());
  ASSERT_EQ(h_->records().size(), 1u);
}

TEST_F(TunnelTest, ATargetThatStopsReadingStopsTheClientNotOurMemory) {
  net::MemoryTransport* client = Upgraded();
  // The target reads nothing: its stream (64 KiB) and our 16 KiB buffer fill, then the
  // client's stream does; everything it could write arrives once the target reads again.
  std::string chunk(4096, 'w');
  size_t accepted = 0;
  for (int i = 0; i < 200; ++i) {
    net::IoResult r = client->Write(chunk.data(), chunk.size());
    if (!r.ok()) break;
    accepted += r.bytes();
    h_->Run();
  }
  EXPECT_LT(accepted, 200u * 4096u);  // back-pressure reached the client
  size_t delivered = 0;
  for (int i = 0; i < 100 && delivered < accepted; ++i) {
    delivered += Target(0).ReadAll().size();
    h_->Run();
  }
  EXPECT_EQ(delivered, accepted);
}

TEST_F(TunnelTest, OnlyABodilessGetMaySwitch) {
  net::MemoryTransport* client = h_->Connect();
  Send(client,
       "POST /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Content-Length: 2\r\n\r\nhi");
  std::string sent = Target(0).ReadAll();
  EXPECT_EQ(sent.find("Upgrade"), std::string::npos) << sent;
  Send(&Target(0), kSwitch);  // switching anyway is the target's error
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 502 ", 0), 0u);
  EXPECT_EQ(h_->records().back().record.cause, Cause::kUpgradeNotSupported);
}

TEST_F(TunnelTest, OtherUpgradesAreDroppedAndARefusalIsAResponse) {
  net::MemoryTransport* client = h_->Connect();
  Send(client, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n");
  std::string sent = Target(0).ReadAll();
  EXPECT_EQ(sent.find("Upgrade"), std::string::npos) << sent;
  Send(&Target(0), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  // A WebSocket upgrade the target refuses: its answer is relayed, the connection stays.
  Send(client, kUpgrade);
  Target(0).ReadAll();
  Send(&Target(0), "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(client->ReadAll().rfind("HTTP/1.1 426 Upgrade Required\r\n", 0), 0u);
  EXPECT_FALSE(h_->records().back().record.websocket);
  EXPECT_FALSE(client->at_eof());
}

}  // namespace
}  // namespace sluice::proxy

namespace sluice::proxy {
namespace {

// A network load balancer: a TCP listener forwarding to a TCP group of two targets.
constexpr char kNetworkConfig[] = R"(LoadBalancers:
  - Name: net
    Type: network
    Listeners:
      - Protocol: TCP
        Port: 5432
        BindAddress: 127.0.0.1
        Attributes: {tcp.idle_timeout.seconds: "60"}
        DefaultActions:
          - Type: forward
            TargetGroupName: db
TargetGroups:
  - Name: db
    Protocol: TCP
    Port: 6432
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}, {Id: 10.0.0.2}]
)";

class TcpListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = MemoryHarness::Create(kNetworkConfig);
    ASSERT_TRUE(h.ok()) << h.error().message;
    h_ = std::move(h.value());
  }
  void Send(net::MemoryTransport* stream, std::string_view bytes) {
    ASSERT_EQ(stream->Write(bytes.data(), bytes.size()).bytes(), bytes.size());
    h_->Run();
  }
  std::unique_ptr<MemoryHarness> h_;
};

TEST_F(TcpListenerTest, BytesAreRelayedUnchangedFromTheFirstOne) {
  net::MemoryTransport* client = h_->Connect();
  h_->Run();
  ASSERT_EQ(h_->upstreams().size(), 1u);  // connected at accept, before any byte
  net::MemoryTransport& target = *h_->upstreams()[0].target;
  // Not HTTP: nothing is parsed, added or answered.
  const std::string bytes("GET / HTTP/1.1\r\n\r\n\x00\x01garbage", 27);
  Send(client, bytes);
  EXPECT_EQ(target.ReadAll(), bytes);
  Send(&target, "server first words");
  EXPECT_EQ(client->ReadAll(), "server first words");
  client->ShutdownWrite();
  h_->Run();
  EXPECT_TRUE(target.at_eof());
  Send(&target, "after");
  target.ShutdownWrite();
  h_->Run();
  EXPECT_EQ(client->ReadAll(), "after");
  EXPECT_TRUE(client->at_eof());
  EXPECT_TRUE(h_->records().empty());  // no HTTP exchange, no access-log record
}

TEST_F(TcpListenerTest, ConnectionsSpreadOverTheTargetsByFlowHash) {
  std::set<std::string> seen;
  for (uint16_t port = 40000; port < 40064; ++port) {
    h_->Connect(0, port);
    h_->Run();
  }
  for (const auto& u : h_->upstreams()) seen.insert(u.address.ToString());
  EXPECT_EQ(seen, (std::set<std::string>{"10.0.0.1:6432", "10.0.0.2:6432"}));
}

TEST_F(TcpListenerTest, TheListenersIdleTimeoutEndsASilentFlow) {
  net::MemoryTransport* client = h_->Connect();
  h_->Run();
  h_->Advance(59000);
  EXPECT_FALSE(client->at_eof());
  h_->Advance(2000);
  // Ended with a reset both ways, as an NLB resets a flow that idled out (reference §8.5).
  char byte;
  net::IoResult to_client = client->Read(&byte, 1);
  EXPECT_EQ(to_client.status(), net::IoStatus::kError);
  EXPECT_EQ(to_client.error(), ECONNRESET);
  net::IoResult to_target = h_->upstreams()[0].target->Read(&byte, 1);
  EXPECT_EQ(to_target.error(), ECONNRESET);
}

TEST_F(TcpListenerTest, KeepAlivesFromEitherSideKeepAQuietFlow) {
  // Reference §8.5: TCP keep-alives from either side reset the idle timer. The memory
  // streams count a probe as a segment received, as the kernel's TCP_INFO does.
  net::MemoryTransport* client = h_->Connect();
  h_->Run();
  net::MemoryTransport& target = *h_->upstreams()[0].target;
  h_->Advance(10000);  // past the baseline, taken 5 s into the quiet spell
  client->SendKeepAliveProbes(1);
  h_->Advance(30000);
  h_->Advance(21000);  // 61 s: no data for more than the 60 s timeout, but a probe came
  EXPECT_FALSE(client->at_eof());
  EXPECT_EQ(client->peer_keepalive_interval_s(), 0);  // a TCP listener sends none of its own
  h_->Advance(30000);                                 // 91 s
  target.SendKeepAliveProbes(2);
  h_->Advance(30000);  // 121 s: the target's probes count too
  EXPECT_FALSE(client->at_eof());
  Send(client, "still here");
  EXPECT_EQ(target.ReadAll(), "still here");
  h_->Advance(59000);  // quiet again, no probe
  EXPECT_FALSE(client->at_eof());
  h_->Advance(2000);
  char byte;
  EXPECT_EQ(client->Read(&byte, 1).error(), ECONNRESET);
}

TEST(TcpListenerProxyProtocol, TheTargetGetsAProxyV2HeaderBeforeTheClientsBytes) {
  std::string yaml = kNetworkConfig;
  const std::string tail = "    HealthCheckEnabled: false\n";
  yaml.replace(yaml.find(tail), tail.size(),
               tail + "    Attributes: {proxy_protocol_v2.enabled: true}\n");
  auto h = MemoryHarness::Create(yaml);
  ASSERT_TRUE(h.ok()) << h.error().message;
  net::MemoryTransport* client = h.value()->Connect(0, 41234);
  ASSERT_EQ(client->Write("hello", 5).bytes(), 5u);
  h.value()->Run();
  ASSERT_EQ(h.value()->upstreams().size(), 1u);
  const std::string got = h.value()->upstreams()[0].target->ReadAll();
  ASSERT_EQ(got.size(), 28u + 5u) << got;
  const auto* bytes = reinterpret_cast<const uint8_t*>(got.data());
  nlb::ProxyV2Decoded d = nlb::DecodeProxyV2(std::span<const uint8_t>(bytes, got.size()));
  ASSERT_EQ(d.status, nlb::ProxyV2Status::kComplete);
  EXPECT_EQ(d.header.command, nlb::ProxyV2Command::kProxy);
  EXPECT_EQ(d.header.source.ToString(), "192.0.2.10:41234");
  EXPECT_EQ(d.header.destination.port, 5432);
  EXPECT_EQ(got.substr(d.consumed), "hello");
}

TEST_F(TcpListenerTest, ARefusedTargetClosesTheClient) {
  SocketAddress a = *SocketAddress::Parse("10.0.0.1", 6432);
  SocketAddress b = *SocketAddress::Parse("10.0.0.2", 6432);
  h_->Refuse(a, ECONNREFUSED);
  h_->Refuse(b, ECONNREFUSED);
  net::MemoryTransport* client = h_->Connect();
  h_->Run();
  EXPECT_TRUE(client->at_eof());
  EXPECT_EQ(client->ReadAll(), "");  // never an HTTP error page on a TCP listener
}

}  // namespace
}  // namespace sluice::proxy
