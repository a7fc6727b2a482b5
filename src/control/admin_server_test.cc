// Tests for the admin endpoint: AdminServer::Respond for every path and method, the exact JSON
// of healthy and unhealthy rows (DescribeTargetHealth's shape and key order), the table that
// `sluice targets` prints, and one real round trip over loopback with FetchAdmin.
#include "control/admin_server.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sluice::control {
namespace {

using health::Reason;
using health::TargetGroupHealth;
using health::TargetHealthRow;
using health::TargetState;
using nlohmann::ordered_json;

TargetHealthRow Row(std::string id, int port, TargetState state, Reason reason = Reason::kNone,
                    int code = 0) {
  TargetHealthRow r;
  r.id = std::move(id);
  r.port = port;
  r.health_check_port = port;
  r.state = state;
  r.reason = reason;
  r.status_code = code;
  return r;
}

std::vector<TargetGroupHealth> Report() {
  return {
      {"web",
       {Row("10.0.0.1", 80, TargetState::kHealthy),
        Row("10.0.0.2", 8080, TargetState::kUnhealthy, Reason::kTargetResponseCodeMismatch, 503)}},
      {"api",
       {Row("10.0.1.1", 9000, TargetState::kDraining, Reason::kTargetDeregistrationInProgress)}},
  };
}

struct Parsed {
  int status = 0;
  std::string status_line;
  std::string content_type;
  size_t content_length = 0;
  bool connection_close = false;
  std::string body;
};

Parsed Parse(const std::string& raw) {
  Parsed p;
  size_t end = raw.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos) << raw;
  std::string head = raw.substr(0, end);
  p.body = raw.substr(end + 4);
  p.status_line = head.substr(0, head.find("\r\n"));
  p.status = std::stoi(p.status_line.substr(9, 3));
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
    std::string name = line.substr(0, line.find(':'));
    std::string value = line.substr(line.find(':') + 2);
    if (name == "Content-Type") p.content_type = value;
    if (name == "Content-Length") p.content_length = std::stoul(value);
    if (name == "Connection" && value == "close") p.connection_close = true;
    pos = next;
  }
  EXPECT_EQ(p.content_length, p.body.size()) << raw;
  EXPECT_TRUE(p.connection_close) << raw;
  return p;
}

constexpr char kHealthy[] = R"({
  "Target": {"Id": "10.0.0.1", "Port": 80},
  "HealthCheckPort": "80",
  "TargetHealth": {"State": "healthy"}
})";
constexpr char kUnhealthy[] = R"({
  "Target": {"Id": "10.0.0.2", "Port": 8080},
  "HealthCheckPort": "8080",
  "TargetHealth": {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                   "Description": "Health checks failed with these codes: [503]"}
})";
constexpr char kDraining[] = R"({
  "Target": {"Id": "10.0.1.1", "Port": 9000},
  "HealthCheckPort": "9000",
  "TargetHealth": {"State": "draining", "Reason": "Target.DeregistrationInProgress",
                   "Description": "Target deregistration is in progress"}
})";

// ordered_json compares objects in key order, so these checks pin the order too.
TEST(AdminRespondTest, AllTargetsJsonIsExact) {
  AdminServer server(Report);
  Parsed p = Parse(server.Respond("GET", "/targets"));
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(p.content_type, "application/json");
  ordered_json want = {{"TargetGroups",
                        {{{"TargetGroupName", "web"},
                          {"TargetHealthDescriptions",
                           {ordered_json::parse(kHealthy), ordered_json::parse(kUnhealthy)}}},
                         {{"TargetGroupName", "api"},
                          {"TargetHealthDescriptions", {ordered_json::parse(kDraining)}}}}}};
  EXPECT_EQ(ordered_json::parse(p.body), want) << p.body;
  EXPECT_EQ(p.body, want.dump(2) + "\n");
  // A healthy row carries neither Reason nor Description (not even empty ones).
  EXPECT_EQ(p.body.find("\"Reason\": \"\""), std::string::npos);
}

TEST(AdminRespondTest, OneGroupIsShapedLikeDescribeTargetHealth) {
  AdminServer server(Report);
  Parsed p = Parse(server.Respond("GET", "/targets/web"));
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.content_type, "application/json");
  ordered_json want = {{"TargetHealthDescriptions",
                        {ordered_json::parse(kHealthy), ordered_json::parse(kUnhealthy)}}};
  EXPECT_EQ(ordered_json::parse(p.body), want) << p.body;
  Parsed api = Parse(server.Respond("GET", "/targets/api"));
  EXPECT_EQ(ordered_json::parse(api.body),
            (ordered_json{{"TargetHealthDescriptions", {ordered_json::parse(kDraining)}}}));
}

TEST(AdminRespondTest, UnknownGroupIs404) {
  AdminServer server(Report);
  Parsed p = Parse(server.Respond("GET", "/targets/nope"));
  EXPECT_EQ(p.status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(p.content_type, "application/json");
  auto doc = nlohmann::json::parse(p.body);
  EXPECT_EQ(doc["Error"]["Code"], "TargetGroupNotFound");
  // Group names match exactly: no prefix, case or trailing-slash leniency.
  EXPECT_EQ(Parse(server.Respond("GET", "/targets/we")).status, 404);
  EXPECT_EQ(Parse(server.Respond("GET", "/targets/WEB")).status, 404);
  EXPECT_EQ(Parse(server.Respond("GET", "/targets/web/x")).status, 404);
}

TEST(AdminRespondTest, TrailingSlashAndQueryAreIgnored) {
  AdminServer server(Report);
  std::string all = Parse(server.Respond("GET", "/targets")).body;
  EXPECT_EQ(Parse(server.Respond("GET", "/targets/")).body, all);
  EXPECT_EQ(Parse(server.Respond("GET", "/targets?x=1")).body, all);
  Parsed one = Parse(server.Respond("GET", "/targets/web?pretty"));
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.body, Parse(server.Respond("GET", "/targets/web")).body);
}

// Requests are parsed by the listeners' HTTP/1 parser (http/h1_parser.h), not by hand.
TEST(AdminAnswerTest, ParsesWithTheDataPlaneParser) {
  AdminServer server(Report);
  EXPECT_EQ(server.Answer("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200 OK", 0), 0u);
  EXPECT_EQ(server.Answer("GET /ping?x=1 HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 OK", 0), 0u);
  EXPECT_EQ(server.Answer("POST /ping HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_EQ(server.Answer("GET /ping HTTP/3.0\r\n\r\n").rfind("HTTP/1.1 505 ", 0), 0u);
  EXPECT_EQ(server.Answer("GET\x01 /ping HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(server.Answer("GET /ping HTTP/1.1\r\nHost").rfind("HTTP/1.1 400 ", 0), 0u);
  std::string huge = "GET /ping HTTP/1.1\r\nX: " + std::string(AdminServer::kMaxRequest, 'a');
  EXPECT_EQ(server.Answer(huge).rfind("HTTP/1.1 431 ", 0), 0u);
}

TEST(AdminAnswerTest, ClientReadsTheBodyOrNamesTheStatus) {
  auto ok = AdminResponseBody("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), "ok\n");
  auto missing = AdminResponseBody("HTTP/1.1 404 Not Found\r\n\r\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "admin endpoint answered 404 Not Found");
  EXPECT_FALSE(AdminResponseBody("SSH-2.0-OpenSSH\r\n").ok());
}

TEST(AdminRespondTest, PingAndUnknownPaths) {
  AdminServer server(Report);
  Parsed ping = Parse(server.Respond("GET", "/ping"));
  EXPECT_EQ(ping.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(ping.content_type, "text/plain");
  EXPECT_EQ(ping.body, "ok\n");
  Parsed other = Parse(server.Respond("GET", "/nope"));
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.content_type, "text/plain");
  EXPECT_EQ(Parse(server.Respond("GET", "/targetsx")).status, 404);
}

TEST(AdminRespondTest, OnlyGetIsServed) {
  AdminServer server(Report);
  for (const char* m : {"POST", "PUT", "DELETE", "HEAD", "get"}) {
    for (const char* path : {"/targets", "/ping", "/targets/web", "/nope"}) {
      Parsed p = Parse(server.Respond(m, path));
      EXPECT_EQ(p.status_line, "HTTP/1.1 405 Method Not Allowed") << m << " " << path;
    }
  }
}

TEST(AdminRespondTest, EmptyReport) {
  AdminServer server([] { return std::vector<TargetGroupHealth>{}; });
  Parsed p = Parse(server.Respond("GET", "/targets"));
  EXPECT_EQ(ordered_json::parse(p.body), (ordered_json{{"TargetGroups", ordered_json::array()}}));
  EXPECT_EQ(Parse(server.Respond("GET", "/targets/web")).status, 404);
}

// An existing group without targets is found, with an empty list (DescribeTargetHealth of a
// group with no registered targets), not TargetGroupNotFound.
TEST(AdminRespondTest, GroupWithoutTargetsIsAnEmptyList) {
  AdminServer server([] { return std::vector<TargetGroupHealth>{{"empty", {}}}; });
  Parsed p = Parse(server.Respond("GET", "/targets/empty"));
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(ordered_json::parse(p.body),
            (ordered_json{{"TargetHealthDescriptions", ordered_json::array()}}));
  ordered_json all = ordered_json::parse(Parse(server.Respond("GET", "/targets")).body);
  EXPECT_EQ(all["TargetGroups"][0]["TargetGroupName"], "empty");
  EXPECT_EQ(all["TargetGroups"][0]["TargetHealthDescriptions"], ordered_json::array());
}

TEST(AdminRespondTest, EveryStateAndReasonRendersItsAlbName) {
  struct Case {
    TargetState state;
    Reason reason;
    const char* state_text;
    const char* reason_text;
    const char* description;
  };
  const Case cases[] = {
      {TargetState::kInitial, Reason::kElbRegistrationInProgress, "initial",
       "Elb.RegistrationInProgress", "Target registration is in progress"},
      {TargetState::kInitial, Reason::kElbInitialHealthChecking, "initial",
       "Elb.InitialHealthChecking", "Initial health checks in progress"},
      {TargetState::kUnhealthy, Reason::kTargetTimeout, "unhealthy", "Target.Timeout",
       "Request timed out"},
      {TargetState::kUnhealthy, Reason::kTargetFailedHealthChecks, "unhealthy",
       "Target.FailedHealthChecks", "Health checks failed"},
      {TargetState::kUnavailable, Reason::kTargetHealthCheckDisabled, "unavailable",
       "Target.HealthCheckDisabled", "Health checks are disabled"},
  };
  for (const Case& c : cases) {
    TargetGroupHealth g{"g", {Row("10.0.0.9", 81, c.state, c.reason)}};
    auto doc = ordered_json::parse(TargetHealthJson(g));
    ordered_json th = doc["TargetHealthDescriptions"][0]["TargetHealth"];
    EXPECT_EQ(th, (ordered_json{{"State", c.state_text},
                                {"Reason", c.reason_text},
                                {"Description", c.description}}));
  }
}

TEST(AdminRespondTest, HealthCheckPortIsAString) {
  TargetHealthRow r = Row("10.0.0.1", 80, TargetState::kHealthy);
  r.health_check_port = 8081;
  auto doc = ordered_json::parse(TargetHealthJson({"g", {r}}));
  EXPECT_EQ(doc["TargetHealthDescriptions"][0]["HealthCheckPort"], "8081");
  EXPECT_EQ(doc["TargetHealthDescriptions"][0]["Target"]["Port"], 80);
}

// ---- the `sluice targets` table -------------------------------------------------------------

TEST(FormatTargetHealthTableTest, ExactTable) {
  std::string out;
  ASSERT_TRUE(FormatTargetHealthTable(AllTargetHealthJson(Report()), &out));
  // Columns are as wide as their widest cell plus two spaces; the last one is not padded.
  const char* want =
      "GROUP  TARGET    PORT  STATE      REASON                           DESCRIPTION\n"
      "web    10.0.0.1  80    healthy    -                                -\n"
      "web    10.0.0.2  8080  unhealthy  Target.ResponseCodeMismatch      Health checks failed "
      "with these codes: [503]\n"
      "api    10.0.1.1  9000  draining   Target.DeregistrationInProgress  Target "
      "deregistration is in progress\n";
  EXPECT_EQ(out, want);
}

TEST(FormatTargetHealthTableTest, HeaderOnlyWithoutTargets) {
  std::string out;
  ASSERT_TRUE(FormatTargetHealthTable(R"({"TargetGroups": []})", &out));
  EXPECT_EQ(out, "GROUP  TARGET  PORT  STATE  REASON  DESCRIPTION\n");
}

TEST(FormatTargetHealthTableTest, RejectsOtherDocuments) {
  std::string out;
  EXPECT_FALSE(FormatTargetHealthTable("not json", &out));
  EXPECT_FALSE(FormatTargetHealthTable("", &out));
  EXPECT_FALSE(FormatTargetHealthTable(R"({"TargetHealthDescriptions": []})", &out));
  EXPECT_FALSE(FormatTargetHealthTable(R"({"TargetGroups": {}})", &out));
  EXPECT_EQ(out, "");
}

// ---- a real endpoint on loopback ------------------------------------------------------------

TEST(AdminServerTest, ServesOverLoopbackAndFetchAdminReadsIt) {
  AdminServer server(Report);
  auto addr = SocketAddress::Parse("127.0.0.1", 0);
  ASSERT_TRUE(addr);
  auto started = server.Start(*addr);
  ASSERT_TRUE(started.ok()) << started.error().message;
  ASSERT_GT(server.port(), 0);
  auto at = SocketAddress::Parse("127.0.0.1", server.port());
  auto body = FetchAdmin(*at, "/targets");
  ASSERT_TRUE(body.ok()) << body.error().message;
  EXPECT_EQ(body.value(), AllTargetHealthJson(Report()));
  auto one = FetchAdmin(*at, "/targets/api");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.value(), TargetHealthJson(Report()[1]));
  auto missing = FetchAdmin(*at, "/targets/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("404"), std::string::npos) << missing.error().message;
  server.Stop();
  auto after = FetchAdmin(*at, "/ping");
  EXPECT_FALSE(after.ok());
}

TEST(AdminServerTest, StartFailsOnABusyPortAndNamesIt) {
  AdminServer first(Report);
  ASSERT_TRUE(first.Start(*SocketAddress::Parse("127.0.0.1", 0)).ok());
  AdminServer second(Report);
  auto r = second.Start(*SocketAddress::Parse("127.0.0.1", first.port()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace sluice::control
