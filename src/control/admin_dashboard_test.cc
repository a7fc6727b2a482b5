// Tests for what the admin endpoint serves the dashboard (its page, files and model), the
// admin token (header, cookie, query → cookie and redirect, refusals), and the poll loop: a
// client that connects and sends nothing does not hold the endpoint from the others.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "control/admin_server.h"
#include "control/admin_token.h"
#include "control/dashboard_assets.h"
#include "control/dashboard_model.h"

namespace sluice::control {
namespace {

std::vector<health::TargetGroupHealth> NoGroups() { return {}; }

std::string Status(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

bool HasHeader(const std::string& response, const std::string& line) {
  return response.substr(0, response.find("\r\n\r\n")).find("\r\n" + line + "\r\n") !=
         std::string::npos;
}

std::string Body(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

TEST(AdminDashboardTest, ServesThePageItsFilesAndTheModel) {
  AdminServer server(NoGroups);
  std::string page = server.Respond("GET", "/dashboard");
  EXPECT_EQ(Status(page), "HTTP/1.1 200 OK");
  EXPECT_TRUE(HasHeader(page, "Content-Type: text/html; charset=utf-8"));
  EXPECT_TRUE(HasHeader(page, "X-Frame-Options: DENY"));
  EXPECT_NE(page.find("Content-Security-Policy: default-src 'self';"), std::string::npos);
  EXPECT_EQ(Body(page), DashboardFile("index.html"));
  EXPECT_NE(Body(page).find("/dashboard/app.js"), std::string::npos);
  for (const char* file : {"app.js", "app.css", "uPlot.iife.min.js", "uPlot.min.css"}) {
    std::string r = server.Respond("GET", std::string("/dashboard/") + file);
    EXPECT_EQ(Status(r), "HTTP/1.1 200 OK") << file;
    EXPECT_FALSE(Body(r).empty()) << file;
    EXPECT_EQ(Body(r), DashboardFile(file)) << file;
  }
  EXPECT_TRUE(HasHeader(server.Respond("GET", "/dashboard/app.js"),
                        "Content-Type: text/javascript; charset=utf-8"));
  EXPECT_EQ(Status(server.Respond("GET", "/dashboard/nope.js")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(Status(server.Respond("GET", "/dashboard/../admin_server.cc")),
            "HTTP/1.1 404 Not Found");
  std::string root = server.Respond("GET", "/");
  EXPECT_EQ(Status(root), "HTTP/1.1 302 Found");
  EXPECT_TRUE(HasHeader(root, "Location: /dashboard"));

  EXPECT_EQ(Body(server.Respond("GET", "/dashboard/model")), "{}\n");
  server.set_model("{\"LoadBalancers\":[]}\n");
  std::string model = server.Respond("GET", "/dashboard/model");
  EXPECT_EQ(Body(model), "{\"LoadBalancers\":[]}\n");
  EXPECT_TRUE(HasHeader(model, "Content-Type: application/json"));
  EXPECT_EQ(Status(server.Respond("POST", "/dashboard/model")), "HTTP/1.1 405 Method Not Allowed");
}

// A published model is rendered when first asked for, and each publish replaces it.
TEST(AdminDashboardTest, ThePublishedModelIsRenderedOnRequest) {
  AdminServer server(NoGroups);
  auto config = std::make_shared<config::Config>();
  config->load_balancers.emplace_back().name = "first";
  server.set_model(config, 10);
  config->load_balancers[0].name = "changed-before-the-request";
  std::string body = Body(server.Respond("GET", "/dashboard/model"));
  EXPECT_EQ(body, DashboardModelJson(*config, 10));
  EXPECT_NE(body.find("changed-before-the-request"), std::string::npos);
  auto next = std::make_shared<config::Config>();
  next->load_balancers.emplace_back().name = "second";
  server.set_model(next, 60);
  body = Body(server.Respond("GET", "/dashboard/model"));
  EXPECT_NE(body.find("\"second\""), std::string::npos);
  EXPECT_NE(body.find("60"), std::string::npos);
  EXPECT_EQ(body.find("first"), std::string::npos);
  EXPECT_EQ(Body(server.Respond("GET", "/dashboard/model")), body);  // kept
}

constexpr char kToken[] = "s3cret-token-0123456789";

std::string Get(const AdminServer& server, const std::string& target,
                const std::string& headers = "") {
  return server.Answer("GET " + target + " HTTP/1.1\r\nHost: a\r\n" + headers + "\r\n");
}

TEST(AdminTokenTest, WithoutATokenEverythingIsOpen) {
  AdminServer server(NoGroups);
  EXPECT_EQ(Status(Get(server, "/ping")), "HTTP/1.1 200 OK");
}

TEST(AdminTokenTest, BearerOrCookieAdmitsAnythingElseIsRefused) {
  AdminServer server(NoGroups);
  server.set_token(kToken);
  std::string refused = Get(server, "/ping");
  EXPECT_EQ(Status(refused), "HTTP/1.1 401 Unauthorized");
  EXPECT_TRUE(HasHeader(refused, "WWW-Authenticate: Bearer realm=\"sluice-admin\""));
  EXPECT_NE(Body(refused).find("Admin.TokenFile"), std::string::npos);
  EXPECT_EQ(Status(Get(server, "/ping", "Authorization: Bearer " + std::string(kToken) + "\r\n")),
            "HTTP/1.1 200 OK");
  EXPECT_EQ(Status(Get(server, "/ping", "authorization: bearer " + std::string(kToken) + "\r\n")),
            "HTTP/1.1 200 OK");
  EXPECT_EQ(Status(Get(server, "/ping",
                       "Cookie: a=1; sluice_admin=" + std::string(kToken) + "; b=2\r\n")),
            "HTTP/1.1 200 OK");
  for (const std::string& wrong :
       {std::string("Authorization: Bearer s3cret-token-012345678\r\n"),  // one short
        std::string("Authorization: Bearer s3cret-token-01234567890\r\n"),
        std::string("Authorization: Basic ") + kToken + "\r\n",
        std::string("Cookie: xsluice_admin=") + kToken + "\r\n",
        std::string("Authorization: Bearer \r\n"), std::string("Cookie: sluice_admin=\r\n")}) {
    EXPECT_EQ(Status(Get(server, "/ping", wrong)), "HTTP/1.1 401 Unauthorized") << wrong;
  }
  // Refused before anything is looked at: no path is an exception.
  for (const char* path : {"/dashboard", "/dashboard/app.js", "/dashboard/model", "/targets",
                           "/metrics", "/", "/nope"}) {
    EXPECT_EQ(Status(Get(server, path)), "HTTP/1.1 401 Unauthorized") << path;
  }
}

TEST(AdminTokenTest, TheTokenInTheAddressBecomesACookieAndLeavesTheAddress) {
  AdminServer server(NoGroups);
  server.set_token(kToken);
  std::string r = Get(server, "/dashboard?refresh=2&token=" + std::string(kToken) + "&x=1");
  EXPECT_EQ(Status(r), "HTTP/1.1 303 See Other");
  EXPECT_TRUE(HasHeader(r, "Location: /dashboard?refresh=2&x=1"));
  EXPECT_TRUE(HasHeader(r, "Set-Cookie: sluice_admin=" + std::string(kToken) +
                               "; Path=/; HttpOnly; SameSite=Strict"));
  EXPECT_TRUE(
      HasHeader(Get(server, "/dashboard?token=" + std::string(kToken)), "Location: /dashboard"));
  EXPECT_EQ(Status(Get(server, "/dashboard?token=nope-nope-nope-nope")),
            "HTTP/1.1 401 Unauthorized");
}

TEST(AdminTokenTest, ParseAdminTokenChecksLengthAndCharacters) {
  EXPECT_EQ(ParseAdminToken("  abcdefghijklmnop  \r\nsecond line").value(), "abcdefghijklmnop");
  EXPECT_EQ(ParseAdminToken("A-Za-z0-9._~+/=xyz\n").value(), "A-Za-z0-9._~+/=xyz");
  EXPECT_NE(ParseAdminToken("").error().message.find("empty"), std::string::npos);
  EXPECT_NE(ParseAdminToken("\nabcdefghijklmnopq").error().message.find("empty"),
            std::string::npos);
  EXPECT_NE(ParseAdminToken("short").error().message.find("5 characters long"), std::string::npos);
  EXPECT_FALSE(ParseAdminToken(std::string(257, 'a')).ok());
  EXPECT_TRUE(ParseAdminToken(std::string(256, 'a')).ok());
  for (const char* bad : {"abcdefgh ijklmnop", "abcdefghijklmnop;", "abcdefghijklmnop\"",
                          "abcdefghijklmnop,", "abcdefghijklmnop\x80"}) {
    EXPECT_NE(ParseAdminToken(bad).error().message.find("character"), std::string::npos) << bad;
  }
}

TEST(AdminTokenTest, ReadAdminTokenNamesTheFile) {
  auto missing = ReadAdminToken("/nonexistent/token");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("Admin.TokenFile /nonexistent/token: cannot read"),
            std::string::npos)
      << missing.error().message;
  char path[] = "/tmp/sluice-token-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "short\n", 6), 6);
  close(fd);
  auto short_token = ReadAdminToken(path);
  ASSERT_FALSE(short_token.ok());
  EXPECT_NE(short_token.error().message.find(std::string("Admin.TokenFile ") + path + ": "),
            std::string::npos);
  unlink(path);
}

// A raw connection to the endpoint.
int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(AdminServerLoopTest, SilentClientsDoNotHoldTheEndpoint) {
  AdminServer server(NoGroups);
  ASSERT_TRUE(server.Start(*SocketAddress::Parse("127.0.0.1", 0)).ok());
  auto at = SocketAddress::Parse("127.0.0.1", server.port());
  // Connections that send nothing (a browser's preconnect, a port scan) each wait for their
  // own deadline in the poll loop; a client behind them is answered at once.
  std::vector<int> silent;
  for (int i = 0; i < 5; ++i) silent.push_back(Connect(server.port()));
  const int64_t start = MonotonicMillis();
  auto ping = FetchAdmin(*at, "/ping");
  ASSERT_TRUE(ping.ok()) << ping.error().message;
  EXPECT_EQ(ping.value(), "ok\n");
  EXPECT_LT(MonotonicMillis() - start, AdminServer::kReadTimeoutMs / 2);
  // A silent client is closed at its deadline.
  char c;
  EXPECT_EQ(recv(silent[0], &c, 1, 0), 0);
  EXPECT_GE(MonotonicMillis() - start, AdminServer::kReadTimeoutMs - 500);
  for (int fd : silent) close(fd);
}

TEST(AdminServerLoopTest, AHeadInPiecesIsAnsweredOnceComplete) {
  AdminServer server(NoGroups);
  ASSERT_TRUE(server.Start(*SocketAddress::Parse("127.0.0.1", 0)).ok());
  int fd = Connect(server.port());
  ASSERT_GE(fd, 0);
  for (const char* piece : {"GET /pi", "ng HTTP/1.1\r\nHo", "st: a\r\n", "\r\n"}) {
    ASSERT_GT(send(fd, piece, strlen(piece), 0), 0);
    usleep(20000);
  }
  std::string got;
  char buf[512];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_EQ(Status(got), "HTTP/1.1 200 OK");
  EXPECT_EQ(Body(got), "ok\n");
}

TEST(AdminServerLoopTest, FetchAdminSendsTheToken) {
  AdminServer server(NoGroups);
  server.set_token(kToken);
  ASSERT_TRUE(server.Start(*SocketAddress::Parse("127.0.0.1", 0)).ok());
  auto at = SocketAddress::Parse("127.0.0.1", server.port());
  auto refused = FetchAdmin(*at, "/ping");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("401"), std::string::npos) << refused.error().message;
  auto admitted = FetchAdmin(*at, "/ping", kToken);
  ASSERT_TRUE(admitted.ok()) << admitted.error().message;
  EXPECT_EQ(admitted.value(), "ok\n");
}

}  // namespace
}  // namespace sluice::control
