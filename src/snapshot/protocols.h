// The config's protocol and stickiness strings compiled to enums, once per snapshot, so that
// the data plane decides on integers (never `protocol == "HTTPS"` on a request).
// Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::snapshot {

// Listener protocols of ALB (HTTP, HTTPS) and NLB (TCP, TLS, UDP, TCP_UDP).
enum class ListenerProtocol : uint8_t { kHttp, kHttps, kTcp, kTls, kUdp, kTcpUdp };
// Target-group protocol: the same set (GENEVE is GWLB's and not modelled).
using TargetProtocol = ListenerProtocol;
// Target-group ProtocolVersion (ALB only).
enum class ProtocolVersion : uint8_t { kHttp1, kHttp2, kGrpc };
// stickiness.type; kNone when stickiness.enabled is false.
enum class StickinessType : uint8_t { kNone, kLbCookie, kAppCookie, kSourceIp };
// HealthCheckProtocol.
enum class HealthCheckProtocol : uint8_t { kHttp, kHttps, kTcp };

std::optional<ListenerProtocol> ParseListenerProtocol(std::string_view text);
std::optional<ProtocolVersion> ParseProtocolVersion(std::string_view text);
std::optional<StickinessType> ParseStickinessType(bool enabled, std::string_view text);
std::optional<HealthCheckProtocol> ParseHealthCheckProtocol(std::string_view text);

// "http" / "https" for X-Forwarded-Proto and redirects; "tcp" etc. for the others.
std::string_view SchemeOf(ListenerProtocol protocol);

}  // namespace sluice::snapshot
