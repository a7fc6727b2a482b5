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

}  // namespace

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Payload Too Large";
    case 414:
      return "Request-URI Too Large";
    case 429:
      return "Too Many Requests";
    case 460:
      return "Client Closed";
    case 463:
      return "X-Forwarded-For Too Long";
    case 464:
      return "Incompatible Protocol";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Temporarily Unavailable";
    case 504:
      return "Gateway Time-out";
    case 505:
      return "HTTP Version Not Supported";
    default:
      break;
  }
  if (status >= 200 && status < 300) return "OK";
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
