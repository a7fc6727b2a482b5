#include "proxy/local_response.h"

#include <ctime>

namespace sluice::proxy {
namespace {

void AppendCommon(int status, const LocalResponseOptions& o, std::string* out) {
  out->append("HTTP/1.1 ");
  out->append(std::to_string(status));
  out->push_back(' ');
  out->append(ReasonPhrase(status));
  out->append("\r\nServer: awselb/2.0\r\nDate: ");
  out->append(o.date);
  out->append("\r\n");
  if (o.close) {
    out->append("Connection: close\r\n");
  } else if (o.http10_keep_alive) {
    out->append("Connection: keep-alive\r\n");
  }
}

void AppendBody(std::string_view content_type, std::string_view body, const LocalResponseOptions& o,
                std::string* out) {
  if (!content_type.empty()) {
    out->append("Content-Type: ");
    out->append(content_type);
    out->append("\r\n");
  }
  out->append("Content-Length: ");
  out->append(std::to_string(body.size()));
  out->append("\r\n\r\n");
  if (!o.head_request) out->append(body);
}

void AppendStatusPage(int status, std::string* body) {
  std::string title = std::to_string(status) + " " + ReasonPhrase(status);
  body->append("<html>\r\n<head><title>");
  body->append(title);
  body->append("</title></head>\r\n<body>\r\n<center><h1>");
  body->append(title);
  body->append("</h1></center>\r\n</body>\r\n</html>\r\n");
}

// Reason phrases by status code; ReasonPhrase falls back to one per class for other codes.
struct Reason {
  int status;
  const char* phrase;
};
constexpr Reason kReasons[] = {
    {100, "Continue"},
    {103, "Early Hints"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {413, "Payload Too Large"},
    {414, "Request-URI Too Large"},
    {429, "Too Many Requests"},
    {460, "Client Closed"},
    {463, "X-Forwarded-For Too Long"},
    {464, "Incompatible Protocol"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Temporarily Unavailable"},
    {504, "Gateway Time-out"},
    {505, "HTTP Version Not Supported"},
};

}  // namespace

const char* ReasonPhrase(int status) {
  for (const Reason& r : kReasons) {
    if (r.status == status) return r.phrase;
  }
  if (status >= 100 && status < 200) return "Informational";
  if (status >= 200 && status < 300) return "OK";
  if (status >= 300 && status < 400) return "Redirection";
  if (status >= 400 && status < 500) return "Client Error";
  return "Server Error";
}

size_t FormatHttpDate(int64_t seconds, char* out) {
  time_t t = static_cast<time_t>(seconds);
  tm gmt;
  gmtime_r(&t, &gmt);
  return strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &gmt);
}

void AppendErrorResponse(int status, const LocalResponseOptions& options, std::string* out) {
  std::string body;
  AppendStatusPage(status, &body);
  AppendCommon(status, options, out);
  AppendBody("text/html", body, options, out);
}

void AppendFixedResponse(const config::FixedResponseConfig& fixed,
                         const LocalResponseOptions& options, std::string* out) {
  AppendCommon(fixed.status_code, options, out);
  AppendBody(fixed.content_type, fixed.message_body, options, out);
}

void AppendRedirectResponse(int status, std::string_view location,
                            const LocalResponseOptions& options, std::string* out) {
  std::string body;
  AppendStatusPage(status, &body);
  AppendCommon(status, options, out);
  out->append("Location: ");
  out->append(location);
  out->append("\r\n");
  AppendBody("text/html", body, options, out);
}

}  // namespace sluice::proxy
