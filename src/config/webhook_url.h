// An http:// or https:// URL of the control plane's own requests: alarm actions (config
// Alarms[].AlarmActions) and the S3 endpoint. Pure; shared by the loader and the senders.
#pragma once

#include <string>
#include <string_view>

namespace sluice::config {

struct HttpUrl {
  bool tls = false;  // https
  std::string host;  // an IP address (IPv6 without brackets) or a name
  int port = 80;     // 80 for http, 443 for https when absent
  std::string path = "/";
};

// Splits `url` (http://host[:port]/path or https://...); false with *why for anything else
// (another scheme, a bad port or host, a space or control byte in the path).
bool ParseHttpUrl(std::string_view url, HttpUrl* out, std::string* why);

}  // namespace sluice::config
