// HTTP/2 from clients through the worker over in-memory streams (MemoryHarness), cleartext
// by prior knowledge: an nghttp2 client session plays the client, the tests play the targets.
// Covered: the translation each way (Host from :authority, chunked uploads, HEADERS + DATA
// back), concurrent streams, local answers, a client's RST_STREAM, the exchange records, flow
// control both ways, the idle timeout despite PINGs, GOAWAY after 10,000 requests, and the
// header limits (RST_STREAM + GOAWAY ENHANCE_YOUR_CALM).
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/h1_framing.h"
#include "http/h1_parser.h"
#include "proxy/h2_session.h"
#include "proxy/memory_harness.h"

namespace sluice::proxy {
namespace {

constexpr char kConfig[] = R"(LoadBalancers:
  - Name: lb
    Attributes:
      idle_timeout.timeout_seconds: "30"
      sluice.routing.http2.cleartext.enabled: "true"
    Listeners:
      - Protocol: HTTP
        Port: 80
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: app
        Rules:
          - Priority: 10
            Conditions: [{Field: path-pattern, PathPatternConfig: {Values: ["/fixed*"]}}]
            Actions:
              - Type: fixed-response
                FixedResponseConfig:
                  StatusCode: "503"
                  ContentType: text/plain
                  MessageBody: "local answer"
TargetGroups:
  - Name: app
    Port: 8080
    HealthCheckEnabled: false
    Targets: [{Id: 10.0.0.1}]
)";

using Fields = std::vector<std::pair<std::string, std::string>>;

// An HTTP/2 client (nghttp2's client session) over the client's memory stream.
class H2Client {
 public:
  struct Stream {
    int status = 0;
    Fields headers;
    std::string body;
    int data_frames = 0;
    bool headers_end_stream = false;  // the response HEADERS ended the stream
    bool closed = false;
    uint32_t close_error = 0;
    bool reset = false;  // the server sent RST_STREAM
    uint32_t reset_error = 0;
  };
  struct Options {
    bool auto_window_update = true;
    uint32_t initial_window = 65535;
  };

  H2Client(MemoryHarness* h, net::MemoryTransport* conn, Options options)
      : h_(h), conn_(conn), options_(options) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, OnHeaderCb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, OnDataCb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, OnCloseCb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, OnFrameCb);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    if (!options.auto_window_update) nghttp2_option_set_no_auto_window_update(opt, 1);
    // Let the oversized header blocks of the limit tests out.
    nghttp2_option_set_max_send_header_block_length(opt, 1 << 20);
    nghttp2_session_client_new2(&session_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options.initial_window},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
  }
  explicit H2Client(MemoryHarness* h, net::MemoryTransport* conn) : H2Client(h, conn, {}) {}
  ~H2Client() { nghttp2_session_del(session_); }

  // Submits a request; `body` (sent in DATA frames of at most `piece` bytes) or none (the
  // HEADERS end the stream).
  int32_t Request(const Fields& fields, std::optional<std::string> body = std::nullopt,
                  size_t piece = 16384) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    if (body) {
      uploads_.push_back(std::make_unique<Upload>(Upload{*body, 0, piece}));
      provider.source.ptr = uploads_.back().get();
      provider.read_callback = ReadUploadCb;
    }
    int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                        body ? &provider : nullptr, this);
    EXPECT_GT(id, 0);
    return id;
  }
  // Submits request HEADERS that do not end the stream (a body is to follow, or never).
  int32_t RequestOpen(const Fields& fields) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    int32_t id = nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, -1, nullptr, nva.data(),
                                        nva.size(), this);
    EXPECT_GT(id, 0);
    return id;
  }
  static Fields Get(std::string path, std::string authority = "example.com") {
    return {{":method", "GET"},
            {":scheme", "http"},
            {":authority", std::move(authority)},
            {":path", std::move(path)}};
  }

  // Moves frames both ways until neither side has anything more to say.
  void Pump() {
    for (int round = 0; round < 100000; ++round) {
      bool progress = false;
      for (;;) {
        if (out_.empty()) {
          const uint8_t* data = nullptr;
          ssize_t n = nghttp2_session_mem_send(session_, &data);
          ASSERT_GE(n, 0) << nghttp2_strerror(static_cast<int>(n));
          if (n == 0) break;
          out_.assign(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
        }
        net::IoResult r = conn_->Write(out_.data(), out_.size());
        if (!r.ok()) {
          if (r.status() != net::IoStatus::kWouldBlock) {
            write_failed_ = true;
            out_.clear();
          }
          break;
        }
        out_.erase(0, r.bytes());
        progress = true;
        if (!out_.empty()) break;
      }
      h_->Run();
      std::string in = conn_->ReadAll();
      if (!in.empty()) {
        received_ += in.size();
        ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(in.data()),
                                             in.size());
        ASSERT_EQ(n, static_cast<ssize_t>(in.size())) << nghttp2_strerror(static_cast<int>(n));
        progress = true;
      }
      if (!progress) return;
    }
    ADD_FAILURE() << "the client and the load balancer never went quiet";
  }

  Stream& stream(int32_t id) { return streams_[id]; }
  std::map<int32_t, Stream>& streams() { return streams_; }
  nghttp2_session* session() { return session_; }
  bool goaway() const { return goaway_; }
  uint32_t goaway_error() const { return goaway_error_; }
  int32_t goaway_last_stream() const { return goaway_last_stream_; }
  int ping_acks() const { return ping_acks_; }
  int server_settings() const { return server_settings_; }
  size_t received() const { return received_; }
  // The load balancer closed the connection (every byte it sent was read).
  bool closed_by_server() const { return conn_->at_eof(); }

 private:
  struct Upload {
    std::string data;
    size_t sent = 0;
    size_t piece = 16384;
  };
  static H2Client* Self(void* p) { return static_cast<H2Client*>(p); }
  static int OnHeaderCb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                        size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                        void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Stream& s = Self(user)->streams_[frame->hd.stream_id];
    std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      s.status = std::stoi(v);
    } else {
      s.headers.emplace_back(std::move(n), std::move(v));
    }
    return 0;
  }
  static int OnDataCb(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                      void* user) {
    Self(user)->streams_[stream_id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int OnCloseCb(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    Stream& s = Self(user)->streams_[stream_id];
    s.closed = true;
    s.close_error = error_code;
    return 0;
  }
  static int OnFrameCb(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Client* self = Self(user);
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
          self->streams_[frame->hd.stream_id].headers_end_stream = true;
        }
        break;
      case NGHTTP2_DATA:
        ++self->streams_[frame->hd.stream_id].data_frames;
        break;
      case NGHTTP2_RST_STREAM: {
        Stream& s = self->streams_[frame->hd.stream_id];
        s.reset = true;
        s.reset_error = frame->rst_stream.error_code;
        break;
      }
      case NGHTTP2_GOAWAY:
        self->goaway_ = true;
        self->goaway_error_ = frame->goaway.error_code;
        self->goaway_last_stream_ = frame->goaway.last_stream_id;
        break;
      case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) ++self->ping_acks_;
        break;
      case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) ++self->server_settings_;
        break;
    }
    return 0;
  }
  static ssize_t ReadUploadCb(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* u = static_cast<Upload*>(source->ptr);
    size_t n = std::min({length, u->data.size() - u->sent, u->piece});
    std::memcpy(buf, u->data.data() + u->sent, n);
    u->sent += n;
    if (u->sent == u->data.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  MemoryHarness* h_;
  net::MemoryTransport* conn_;
  Options options_;
  nghttp2_session* session_ = nullptr;
  std::string out_;
  bool write_failed_ = false;
  size_t received_ = 0;
  std::map<int32_t, Stream> streams_;
  std::vector<std::unique_ptr<Upload>> uploads_;
  bool goaway_ = false;
  uint32_t goaway_error_ = 0;
  int32_t goaway_last_stream_ = -1;
  int ping_acks_ = 0;
  int server_settings_ = 0;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

size_t Count(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

std::string Header(const Fields& fields, std::string_view name) {
  for (const auto& [n, v] : fields) {
    if (n == name) return v;
  }
  return "<none>";
}

// The request head a target read, and its body de-chunked (or as is with a length).
struct TargetRequest {
  std::string head;
  std::string body;
  bool chunked = false;
  bool complete = false;
};

TargetRequest SplitRequest(std::string_view raw) {
  TargetRequest out;
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string_view::npos) return out;
  out.head = std::string(raw.substr(0, end + 4));
  std::string_view rest = raw.substr(end + 4);
  out.chunked = out.head.find("\r\nTransfer-Encoding: chunked\r\n") != std::string::npos;
  if (!out.chunked) {
    out.body = std::string(rest);
    out.complete = true;
    return out;
  }
  http::ChunkedDecoder chunks;
  while (!rest.empty() && !chunks.done()) {
    std::string_view data;
    size_t n = chunks.Feed(rest, &data);
    if (chunks.failed() || n == 0) break;
    out.body.append(data);
    rest.remove_prefix(n);
  }
  out.complete = chunks.done();
  return out;
}

class H2MemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = MemoryHarness::Create(kConfig);
    ASSERT_TRUE(h.ok()) << h.error().message;
    h_ = std::move(h.value());
  }
  net::MemoryTransport& Target(size_t i) { return *h_->upstreams().at(i).target; }
  void Send(net::MemoryTransport& stream, std::string_view bytes) {
    ASSERT_EQ(stream.Write(bytes.data(), bytes.size()).bytes(), bytes.size());
    h_->Run();
  }
  std::unique_ptr<MemoryHarness> h_;
};

TEST_F(H2MemoryTest, AGetArrivesAsHttp1AndTheAnswerAsHeadersAndData) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  Fields get = H2Client::Get("/a?x=1", "example.com");
  get.emplace_back("host", "ignored.test");  // :authority wins
  get.emplace_back("accept", "*/*");
  get.emplace_back("cookie", "a=1");
  get.emplace_back("cookie", "b=2");
  int32_t id = client.Request(get);
  client.Pump();
  EXPECT_EQ(client.server_settings(), 1);
  ASSERT_EQ(h_->upstreams().size(), 1u);
  std::string sent = Target(0).ReadAll();
  EXPECT_EQ(sent.rfind("GET /a?x=1 HTTP/1.1\r\n", 0), 0u) << sent;
  EXPECT_NE(sent.find("\r\nHost: example.com\r\n"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("ignored.test"), std::string::npos) << sent;
  EXPECT_NE(sent.find("\r\naccept: */*\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("\r\ncookie: a=1; b=2\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("\r\nX-Forwarded-For: 192.0.2.10\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("\r\nX-Forwarded-Proto: http\r\n"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("Transfer-Encoding"), std::string::npos) << sent;
  EXPECT_EQ(sent.substr(sent.size() - 4), "\r\n\r\n");  // no body
  EXPECT_FALSE(client.stream(id).closed);
  Send(Target(0),
       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Target: T1\r\nKeep-Alive: timeout=5\r\n"
       "Content-Length: 5\r\n\r\nhello");
  client.Pump();
  H2Client::Stream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_error, 0u);
  EXPECT_FALSE(s.reset);
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body, "hello");
  EXPECT_EQ(Header(s.headers, "content-type"), "text/plain");
  EXPECT_EQ(Header(s.headers, "x-target"), "T1");
  EXPECT_EQ(Header(s.headers, "content-length"), "5");
  EXPECT_EQ(Header(s.headers, "keep-alive"), "<none>");
  EXPECT_EQ(Header(s.headers, "connection"), "<none>");
  EXPECT_FALSE(client.closed_by_server());  // the connection stays for more streams
}

TEST_F(H2MemoryTest, APostWithoutContentLengthArrivesChunked) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  Fields post = {
      {":method", "POST"}, {":scheme", "http"}, {":authority", "up.test"}, {":path", "/up"}};
  int32_t id = client.Request(post, std::string("hello, chunked world"), /*piece=*/6);
  client.Pump();
  ASSERT_EQ(h_->upstreams().size(), 1u);
  TargetRequest got = SplitRequest(Target(0).ReadAll());
  EXPECT_EQ(got.head.rfind("POST /up HTTP/1.1\r\n", 0), 0u) << got.head;
  EXPECT_TRUE(got.chunked) << got.head;
  EXPECT_EQ(got.head.find("Content-Length"), std::string::npos) << got.head;
  EXPECT_TRUE(got.complete);
  EXPECT_EQ(got.body, "hello, chunked world");
  Send(Target(0),
       "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndone\r\n0\r\n\r\n");
  client.Pump();
  H2Client::Stream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_error, 0u);
  EXPECT_EQ(s.status, 201);
  EXPECT_EQ(s.body, "done");
  EXPECT_EQ(Header(s.headers, "transfer-encoding"), "<none>");
}

TEST_F(H2MemoryTest, APostWithContentLengthKeepsIt) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  Fields post = {{":method", "POST"},
                 {":scheme", "http"},
                 {":authority", "up.test"},
                 {":path", "/up"},
                 {"content-length", "5"}};
  int32_t id = client.Request(post, std::string("12345"));
  client.Pump();
  ASSERT_EQ(h_->upstreams().size(), 1u);
  TargetRequest got = SplitRequest(Target(0).ReadAll());
  EXPECT_FALSE(got.chunked) << got.head;
  // The request path writes the length itself (as "Content-Length", like ALB).
  EXPECT_EQ(Count(Lower(got.head), "\r\ncontent-length: 5\r\n"), 1u) << got.head;
  EXPECT_EQ(got.body, "12345");
  Send(Target(0), "HTTP/1.1 204 No Content\r\n\r\n");
  client.Pump();
  EXPECT_EQ(client.stream(id).status, 204);
  EXPECT_TRUE(client.stream(id).headers_end_stream);  // no DATA at all
  EXPECT_EQ(client.stream(id).data_frames, 0);
}

TEST_F(H2MemoryTest, AnUploadLargerThanTheWindowsArrivesWhole) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  std::string upload(1536 * 1024, 0);  // over the 64 KiB stream and 1 MiB connection windows
  for (size_t i = 0; i < upload.size(); ++i) upload[i] = static_cast<char>('a' + i % 23);
  Fields post = {{":method", "PUT"},
                 {":scheme", "http"},
                 {":authority", "up.test"},
                 {":path", "/big"},
                 {"content-length", std::to_string(upload.size())}};
  int32_t id = client.Request(post, upload);
  std::string raw;
  for (int i = 0; i < 2000; ++i) {
    client.Pump();
    if (h_->upstreams().empty()) continue;
    std::string more = Target(0).ReadAll();
    if (more.empty()) break;
    raw += more;
  }
  TargetRequest got = SplitRequest(raw);
  ASSERT_EQ(got.body.size(), upload.size());
  EXPECT_TRUE(got.body == upload);
  Send(Target(0), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  client.Pump();
  EXPECT_EQ(client.stream(id).status, 200);
  EXPECT_EQ(client.stream(id).body, "ok");
  EXPECT_EQ(client.stream(id).close_error, 0u);
}

TEST_F(H2MemoryTest, TwoConcurrentStreamsGetSeparateTargetExchanges) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  int32_t one = client.Request(H2Client::Get("/one"));
  int32_t two = client.Request(H2Client::Get("/two"));
  client.Pump();
  ASSERT_EQ(h_->upstreams().size(), 2u);
  size_t target_of_one = 2;
  for (size_t i = 0; i < 2; ++i) {
    std::string sent = Target(i).ReadAll();
    if (sent.rfind("GET /one HTTP/1.1\r\n", 0) == 0) {
      target_of_one = i;
    } else {
      EXPECT_EQ(sent.rfind("GET /two HTTP/1.1\r\n", 0), 0u) << sent;
    }
  }
  ASSERT_NE(target_of_one, 2u);
  // The second stream is answered first.
  Send(Target(1 - target_of_one), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
  client.Pump();
  EXPECT_TRUE(client.stream(two).closed);
  EXPECT_FALSE(client.stream(one).closed);
  Send(Target(target_of_one), "HTTP/1.1 202 Accepted\r\nContent-Length: 3\r\n\r\none");
  client.Pump();
  EXPECT_EQ(client.stream(one).status, 202);
  EXPECT_EQ(client.stream(one).body, "one");
  EXPECT_EQ(client.stream(two).status, 200);
  EXPECT_EQ(client.stream(two).body, "two");
  EXPECT_EQ(h_->records().size(), 2u);
}

TEST_F(H2MemoryTest, AFixedResponseRuleIsAnsweredLocally) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  int32_t id = client.Request(H2Client::Get("/fixed/x"));
  client.Pump();
  EXPECT_TRUE(h_->upstreams().empty());
  H2Client::Stream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_error, 0u);
  EXPECT_EQ(s.status, 503);
  EXPECT_EQ(s.body, "local answer");
  EXPECT_EQ(Header(s.headers, "content-type"), "text/plain");
  EXPECT_EQ(Header(s.headers, "connection"), "<none>");
}

TEST_F(H2MemoryTest, AHeadRequestGetsHeadersOnly) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  Fields head = H2Client::Get("/h");
  head[0].second = "HEAD";
  int32_t id = client.Request(head);
  client.Pump();
  ASSERT_EQ(h_->upstreams().size(), 1u);
  EXPECT_EQ(Target(0).ReadAll().rfind("HEAD /h HTTP/1.1\r\n", 0), 0u);
  Send(Target(0), "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
  client.Pump();
  H2Client::Stream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_error, 0u);
  EXPECT_TRUE(s.headers_end_stream);
  EXPECT_EQ(Header(s.headers, "content-length"), "1000");
  EXPECT_EQ(s.body, "");
}

TEST_F(H2MemoryTest, AClientResetEndsOnlyThatStream) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  int32_t one = client.Request(H2Client::Get("/one"));
  int32_t two = client.Request(H2Client::Get("/two"));
  client.Pump();
  ASSERT_EQ(h_->upstreams().size(), 2u);
  size_t t1 = Target(0).ReadAll().rfind("GET /one ", 0) == 0 ? 0 : 1;
  Target(1 - t1).ReadAll();
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n";
  Send(Target(0), head + "0123456789");
  Send(Target(1), head + "abcdefghij");
  client.Pump();
  EXPECT_EQ(client.stream(one).body, "0123456789");
  EXPECT_EQ(client.stream(two).body, "abcdefghij");
  ASSERT_EQ(nghttp2_submit_rst_stream(client.session(), NGHTTP2_FLAG_NONE, one, NGHTTP2_CANCEL), 0);
  client.Pump();
  EXPECT_TRUE(client.stream(one).closed);
  EXPECT_EQ(client.stream(one).close_error, static_cast<uint32_t>(NGHTTP2_CANCEL));
  // The reset stream's target connection is closed (its response was not complete).
  EXPECT_TRUE(Target(t1).at_eof());
  EXPECT_FALSE(Target(1 - t1).at_eof());
  Send(Target(1 - t1), "klmnopqrst");
  client.Pump();
  EXPECT_TRUE(client.stream(two).closed);
  EXPECT_EQ(client.stream(two).close_error, 0u);
  EXPECT_EQ(client.stream(two).body, "abcdefghijklmnopqrst");
  EXPECT_FALSE(client.closed_by_server());
  // Both exchanges ended; only the connection is left.
  EXPECT_EQ(h_->records().size(), 2u);
  EXPECT_EQ(h_->worker().connection_count(), 1u);
  // The connection still serves new streams.
  int32_t three = client.Request(H2Client::Get("/fixed/3"));
  client.Pump();
  EXPECT_EQ(client.stream(three).status, 503);
}

TEST_F(H2MemoryTest, TheRecordsSayHttp2) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  client.Request(H2Client::Get("/rec?q=1"));
  client.Pump();
  Target(0).ReadAll();
  Send(Target(0), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  client.Request(H2Client::Get("/fixed"));
  client.Pump();
  ASSERT_EQ(h_->records().size(), 2u);
  for (const MemoryHarness::Kept& k : h_->records()) {
    EXPECT_TRUE(k.record.http2) << k.request_line;
    const std::string suffix = " HTTP/2.0";
    ASSERT_GE(k.request_line.size(), suffix.size());
    EXPECT_EQ(k.request_line.substr(k.request_line.size() - suffix.size()), suffix)
        << k.request_line;
  }
  EXPECT_EQ(h_->records()[0].request_line, "GET /rec?q=1 HTTP/2.0");
  EXPECT_EQ(h_->records()[0].record.cause, Cause::kTargetResponse);
  EXPECT_EQ(h_->records()[1].record.elb_status, 503);
}

TEST_F(H2MemoryTest, ABigResponseArrivesWholeThroughTheClientsWindow) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn, {.auto_window_update = false, .initial_window = 16384});
  int32_t id = client.Request(H2Client::Get("/big"));
  client.Pump();
  ASSERT_EQ(h_->upstreams().size(), 1u);
  Target(0).ReadAll();
  std::string body(1024 * 1024, 0);
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i % 251);
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  // With the client's window closed, the target is held back: the load balancer buffers a
  // bounded amount, not the whole response.
  size_t written = 0;
  for (int i = 0; i < 100; ++i) {
    net::IoResult r = Target(0).Write(response.data() + written, response.size() - written);
    if (!r.ok()) break;
    written += r.bytes();
    client.Pump();
  }
  EXPECT_LT(written, response.size() / 2);
  size_t got = client.stream(id).body.size();
  EXPECT_LE(got, 16384u);
  // The client reads and opens its window a little at a time.
  size_t consumed = 0;
  for (int i = 0; i < 100000 && !client.stream(id).closed; ++i) {
    if (written < response.size()) {
      net::IoResult r = Target(0).Write(response.data() + written, response.size() - written);
      if (r.ok()) written += r.bytes();
    }
    client.Pump();
    size_t now = client.stream(id).body.size();
    if (now > consumed) {
      ASSERT_EQ(nghttp2_session_consume(client.session(), id, now - consumed), 0);
      consumed = now;
    }
  }
  H2Client::Stream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_error, 0u);
  EXPECT_EQ(s.status, 200);
  ASSERT_EQ(s.body.size(), body.size());
  EXPECT_TRUE(s.body == body);
  EXPECT_GE(s.data_frames, 64);  // at most 16 KiB per frame
}

TEST_F(H2MemoryTest, AnIdleConnectionClosesAtTheIdleTimeoutDespitePings) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  int32_t id = client.Request(H2Client::Get("/fixed"));
  client.Pump();
  ASSERT_TRUE(client.stream(id).closed);
  for (int i = 1; i <= 5; ++i) {
    h_->Advance(5000);
    ASSERT_EQ(nghttp2_submit_ping(client.session(), NGHTTP2_FLAG_NONE, nullptr), 0);
    client.Pump();
    EXPECT_EQ(client.ping_acks(), i);
  }
  EXPECT_FALSE(client.closed_by_server());  // 25 s idle
  h_->Advance(4000);
  ASSERT_EQ(nghttp2_submit_ping(client.session(), NGHTTP2_FLAG_NONE, nullptr), 0);
  client.Pump();
  EXPECT_FALSE(client.closed_by_server());  // 29 s
  h_->Advance(2000);
  client.Pump();
  EXPECT_TRUE(client.goaway());
  EXPECT_EQ(client.goaway_error(), static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(h_->worker().connection_count(), 0u);
}

TEST_F(H2MemoryTest, AnOpenStreamKeepsTheConnectionAndItsTargetTimesOut) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  int32_t id = client.Request(H2Client::Get("/slow"));
  client.Pump();
  ASSERT_EQ(h_->upstreams().size(), 1u);
  Target(0).ReadAll();
  h_->Advance(29000);
  client.Pump();
  EXPECT_FALSE(client.stream(id).closed);
  h_->Advance(2000);  // the exchange's idle timeout: 504, as over HTTP/1.1
  client.Pump();
  EXPECT_TRUE(client.stream(id).closed);
  EXPECT_EQ(client.stream(id).status, 504);
  EXPECT_FALSE(client.closed_by_server());  // the stream just ended: not idle yet
  h_->Advance(31000);
  client.Pump();
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(H2MemoryTest, AStalledUploadIs408AndTheConnectionThenIdlesOut) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  int32_t id = client.RequestOpen({{":method", "POST"},
                                   {":scheme", "http"},
                                   {":authority", "a"},
                                   {":path", "/up"},
                                   {"content-length", "100"}});
  client.Pump();
  ASSERT_EQ(h_->upstreams().size(), 1u);  // the head went ahead; the body never comes
  h_->Advance(29000);
  client.Pump();
  EXPECT_FALSE(client.stream(id).closed);
  h_->Advance(2000);
  client.Pump();
  EXPECT_EQ(client.stream(id).status, 408);
  EXPECT_TRUE(client.stream(id).closed);  // the rest of the request is refused (RST_STREAM)
  ASSERT_EQ(h_->records().size(), 1u);
  EXPECT_EQ(h_->records()[0].record.cause, Cause::kClientBodyTimeout);
  h_->Advance(31000);
  client.Pump();
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(h_->worker().connection_count(), 0u);
}

TEST_F(H2MemoryTest, TheClientClosingMidStreamEndsEverything) {
  net::MemoryTransport* conn = h_->Connect();
  {
    H2Client client(h_.get(), conn);
    client.Request(H2Client::Get("/a"));
    client.Request(H2Client::Get("/b"));
    client.Pump();
    ASSERT_EQ(h_->upstreams().size(), 2u);
    Target(0).ReadAll();
    Target(1).ReadAll();
    Send(Target(0), "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart");
    client.Pump();
  }
  conn->Reset();
  h_->Run();
  EXPECT_TRUE(Target(0).at_eof());
  EXPECT_TRUE(Target(1).at_eof());
  EXPECT_EQ(h_->worker().connection_count(), 0u);
  EXPECT_EQ(h_->records().size(), 2u);
}

TEST_F(H2MemoryTest, GoawayAfterTenThousandRequests) {
  const auto start = std::chrono::steady_clock::now();
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  int32_t last = 0;
  for (uint32_t sent = 0; sent < kH2MaxRequestsPerConnection;) {
    for (int i = 0; i < 100 && sent < kH2MaxRequestsPerConnection; ++i, ++sent) {
      last = client.Request(H2Client::Get("/fixed"));
    }
    client.Pump();
    ASSERT_FALSE(client.closed_by_server() && sent < kH2MaxRequestsPerConnection) << sent;
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(20)) {
      GTEST_SKIP() << "too slow on this machine (" << sent << " requests)";
    }
  }
  EXPECT_EQ(last, static_cast<int32_t>(2 * kH2MaxRequestsPerConnection - 1));
  size_t answered = 0;
  for (const auto& [id, s] : client.streams()) {
    if (s.closed && s.close_error == 0 && s.status == 503) ++answered;
  }
  EXPECT_EQ(answered, kH2MaxRequestsPerConnection);  // the last one is still served
  EXPECT_TRUE(client.goaway());
  EXPECT_EQ(client.goaway_error(), static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(client.goaway_last_stream(), last);
  EXPECT_TRUE(client.closed_by_server());  // nothing left open: the connection ends
  EXPECT_EQ(h_->worker().connection_count(), 0u);
}

TEST_F(H2MemoryTest, AFieldOverEightKibResetsTheStreamAndSendsEnhanceYourCalm) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  client.Pump();  // SETTINGS both ways
  Fields get = H2Client::Get("/a");
  get.emplace_back("x-big", std::string(9000, 'b'));
  int32_t id = client.Request(get);
  client.Pump();
  EXPECT_TRUE(h_->upstreams().empty());
  EXPECT_TRUE(client.stream(id).closed);
  EXPECT_TRUE(client.stream(id).reset);
  EXPECT_EQ(client.stream(id).status, 0);
  EXPECT_TRUE(client.goaway());
  EXPECT_EQ(client.goaway_error(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(h_->worker().connection_count(), 0u);
}

TEST_F(H2MemoryTest, AHeaderBlockOverSixtyFourKibResetsTheStreamAndSendsEnhanceYourCalm) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  int32_t ok = client.Request(H2Client::Get("/fixed/first"));
  client.Pump();
  ASSERT_EQ(client.stream(ok).status, 503);
  Fields get = H2Client::Get("/a");
  for (int i = 0; i < 10; ++i) {
    get.emplace_back("x-f" + std::to_string(i), std::string(7000, static_cast<char>('a' + i)));
  }
  int32_t id = client.Request(get);
  client.Pump();
  EXPECT_TRUE(h_->upstreams().empty());
  EXPECT_TRUE(client.stream(id).closed);
  EXPECT_NE(client.stream(id).close_error, 0u);
  EXPECT_EQ(client.stream(id).status, 0);
  EXPECT_TRUE(client.goaway());
  EXPECT_EQ(client.goaway_error(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_GE(client.goaway_last_stream(), ok);
  EXPECT_TRUE(client.closed_by_server());
}

// A target's head of exactly 32 KiB (http::kMaxResponseHead, the most a target may send).
std::string HeadOf32Kib() {
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
  while (head.size() + 1100 < http::kMaxResponseHead) {
    head += "X-Filler: " + std::string(1000, 'f') + "\r\n";
  }
  head += "X-Last: " + std::string(http::kMaxResponseHead - head.size() - 12, 'l') + "\r\n\r\n";
  return head;
}

// A target's head within the 32 KiB limit (http::kMaxResponseHead) is relayed to an HTTP/2
// client as to an HTTP/1.1 one, although the exchange adds "Connection: close" to it. (Once
// a bug: H1ResponseReader parsed with the same 32 KiB limit and reset the stream.)
TEST_F(H2MemoryTest, ATargetHeadOfThirtyTwoKibReachesTheHttp2Client) {
  const std::string head = HeadOf32Kib();
  ASSERT_EQ(head.size(), http::kMaxResponseHead);
  // Over HTTP/1.1 it is relayed.
  net::MemoryTransport* h1 = h_->Connect(0, 40001);
  Send(*h1, "GET /big-head HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(h_->upstreams().size(), 1u);
  Target(0).ReadAll();
  Send(Target(0), head + "ok");
  std::string got = h1->ReadAll();
  ASSERT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got.substr(0, 100);
  ASSERT_EQ(got.substr(got.size() - 2), "ok");
  // And over HTTP/2.
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  int32_t id = client.Request(H2Client::Get("/big-head"));
  client.Pump();
  ASSERT_FALSE(h_->upstreams().empty());
  net::MemoryTransport& target = *h_->upstreams().back().target;  // maybe the pooled one
  ASSERT_EQ(target.ReadAll().rfind("GET /big-head HTTP/1.1\r\n", 0), 0u);
  Send(target, head + "ok");
  client.Pump();
  H2Client::Stream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_FALSE(s.reset);
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body, "ok");
}

// A stream whose exchange has ended with its whole response buffered in the session (up to
// kH2ResponseBuffer) while the client keeps its flow-control window shut is not activity: the
// connection closes at the idle timeout. (Once a bug: CheckH2Timers waited for no open
// stream, and such a stream never closed, so a client with SETTINGS_INITIAL_WINDOW_SIZE 0
// held the connection and 64 KiB per stream forever.)
TEST_F(H2MemoryTest, AStreamStuckOnAShutClientWindowDoesNotHoldTheConnectionForever) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn, {.auto_window_update = false, .initial_window = 0});
  int32_t id = client.Request(H2Client::Get("/fixed"));
  client.Pump();
  EXPECT_EQ(client.stream(id).status, 503);  // the HEADERS came; the DATA waits for the window
  EXPECT_FALSE(client.stream(id).closed);
  ASSERT_EQ(h_->records().size(), 1u);  // the exchange is over
  for (int i = 0; i < 10 && !client.closed_by_server(); ++i) {
    h_->Advance(30000);
    client.Pump();
  }
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(h_->worker().connection_count(), 0u);
}

// Cookie crumbs, each well within the 8 KiB field limit and all within 64 KiB, reach the
// target although joined they would be longer than an HTTP/1.1 line may be (16 KiB,
// http::kMaxRequestHeaderLine). (Once a limit mismatch: joined into one line, the valid
// HTTP/2 request was answered 400.)
TEST_F(H2MemoryTest, CookieCrumbsJoinedBeyondSixteenKibStillReachTheTarget) {
  net::MemoryTransport* conn = h_->Connect();
  H2Client client(h_.get(), conn);
  Fields get = H2Client::Get("/c");
  for (int i = 0; i < 3; ++i) {
    get.emplace_back("cookie", "c" + std::to_string(i) + "=" + std::string(7000, 'v'));
  }
  int32_t id = client.Request(get);
  client.Pump();
  ASSERT_EQ(h_->upstreams().size(), 1u) << client.stream(id).status;
  std::string sent = Target(0).ReadAll();
  EXPECT_NE(sent.find("\r\ncookie: c0=v"), std::string::npos) << sent.substr(0, 300);
  EXPECT_NE(sent.find("c2=vvv"), std::string::npos);
  Send(Target(0), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  client.Pump();
  EXPECT_EQ(client.stream(id).status, 200);
}

}  // namespace
}  // namespace sluice::proxy
