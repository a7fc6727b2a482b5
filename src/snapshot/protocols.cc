#include "snapshot/protocols.h"

namespace sluice::snapshot {

std::optional<ListenerProtocol> ParseListenerProtocol(std::string_view text) {
  if (text == "HTTP") return ListenerProtocol::kHttp;
  if (text == "HTTPS") return ListenerProtocol::kHttps;
  if (text == "TCP") return ListenerProtocol::kTcp;
  if (text == "TLS") return ListenerProtocol::kTls;
  if (text == "UDP") return ListenerProtocol::kUdp;
  if (text == "TCP_UDP") return ListenerProtocol::kTcpUdp;
  return std::nullopt;
}

std::optional<ProtocolVersion> ParseProtocolVersion(std::string_view text) {
  if (text == "HTTP1") return ProtocolVersion::kHttp1;
  if (text == "HTTP2") return ProtocolVersion::kHttp2;
  if (text == "GRPC") return ProtocolVersion::kGrpc;
  return std::nullopt;
}

std::optional<StickinessType> ParseStickinessType(bool enabled, std::string_view text) {
  if (text == "lb_cookie") return enabled ? StickinessType::kLbCookie : StickinessType::kNone;
  if (text == "app_cookie") return enabled ? StickinessType::kAppCookie : StickinessType::kNone;
  if (text == "source_ip") return enabled ? StickinessType::kSourceIp : StickinessType::kNone;
  return std::nullopt;
}

std::optional<HealthCheckProtocol> ParseHealthCheckProtocol(std::string_view text) {
  if (text == "HTTP") return HealthCheckProtocol::kHttp;
  if (text == "HTTPS") return HealthCheckProtocol::kHttps;
  if (text == "TCP") return HealthCheckProtocol::kTcp;
  return std::nullopt;
}

std::string_view SchemeOf(ListenerProtocol protocol) {
  switch (protocol) {
    case ListenerProtocol::kHttp:
      return "http";
    case ListenerProtocol::kHttps:
      return "https";
    case ListenerProtocol::kTcp:
      return "tcp";
    case ListenerProtocol::kTls:
      return "tls";
    case ListenerProtocol::kUdp:
      return "udp";
    case ListenerProtocol::kTcpUdp:
      return "tcp_udp";
  }
  return "http";
}

}  // namespace sluice::snapshot
