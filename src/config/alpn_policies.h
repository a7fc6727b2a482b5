// ALPN policies of NLB TLS listeners (reference alb-nlb.md §7.5): which application protocol
// the load balancer acknowledges in a handshake, by its own preference order.
//
//   policy          │ preference list
//   HTTP1Only       │ http/1.1, http/1.0
//   HTTP2Only       │ h2
//   HTTP2Optional   │ http/1.1, http/1.0, h2
//   HTTP2Preferred  │ h2, http/1.1, http/1.0
//   None            │ (no ALPN: the extension is never acknowledged)
//
// The first protocol of the preference list that the client offered wins (server
// preference); when the client offered none of them the handshake goes on without ALPN.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sluice::config {

enum class AlpnPolicy : uint8_t { kNone, kHttp1Only, kHttp2Only, kHttp2Optional, kHttp2Preferred };

// "None", "HTTP1Only", "HTTP2Only", "HTTP2Optional", "HTTP2Preferred" (exact, as the API
// spells them); nullopt for anything else (the API's ALPNPolicyNotFound).
std::optional<AlpnPolicy> ParseAlpnPolicy(std::string_view text);
std::string_view ToString(AlpnPolicy policy);
// "None, HTTP1Only, HTTP2Only, HTTP2Optional, HTTP2Preferred": for error messages.
std::string_view AlpnPolicyNames();

// The policy's preference list, most preferred first (empty for None).
std::span<const std::string_view> AlpnPreference(AlpnPolicy policy);

// The protocol to acknowledge for a client's ALPN extension `offered` (the wire format of
// RFC 7301 §3.1: each protocol a length byte then its name); a malformed tail is ignored.
// Returns a view into `offered` (what OpenSSL's select callback must hand back), or empty
// when no protocol of the policy was offered.
std::string_view SelectAlpn(AlpnPolicy policy, std::string_view offered);

}  // namespace sluice::config
