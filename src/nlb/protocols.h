// Which target-group protocols an NLB listener may forward to (reference alb-nlb.md §8.1):
//
//   listener  │ target group
//   TCP       │ TCP, TCP_UDP
//   TLS       │ TCP, TLS
//   UDP       │ UDP, TCP_UDP
//   TCP_UDP   │ TCP_UDP
//   QUIC      │ QUIC, TCP_QUIC     (the reference marks the QUIC rows "verify")
//   TCP_QUIC  │ TCP_QUIC
//
// and a target group of target type `alb` is TCP only. A mismatch is AWS's
// IncompatibleProtocols error. For the control plane (config validation, the elbv2 API).
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/result.h"

namespace sluice::nlb {

enum class NlbProtocol : uint8_t { kTcp, kTls, kUdp, kTcpUdp, kQuic, kTcpQuic };

// "TCP", "TLS", "UDP", "TCP_UDP", "QUIC", "TCP_QUIC" (exact, as the API spells them).
std::optional<NlbProtocol> ParseNlbProtocol(std::string_view text);
std::string_view ToString(NlbProtocol protocol);

// True when a `listener` listener may forward to a `target_group` target group.
bool IsCompatible(NlbProtocol listener, NlbProtocol target_group);

// nullopt when compatible; otherwise an Error (source kConfig) whose message starts with
// "IncompatibleProtocols:" and names both protocols and what the listener allows.
// `alb_target_type`: the target group's TargetType is `alb` (then only TCP is allowed).
std::optional<Error> CheckListenerTargetGroup(NlbProtocol listener, NlbProtocol target_group,
                                              bool alb_target_type = false);
// As above from the API's strings; an unknown protocol is a "ValidationError:" naming it.
std::optional<Error> CheckListenerTargetGroup(std::string_view listener,
                                              std::string_view target_group,
                                              bool alb_target_type = false);

}  // namespace sluice::nlb
