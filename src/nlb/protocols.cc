#include "nlb/protocols.h"

#include <string>

namespace sluice::nlb {

namespace {

struct Row {
  NlbProtocol listener;
  NlbProtocol allowed[2];
  int count;
  std::string_view allowed_text;
};

// The table of §8.1, one row per listener protocol.
constexpr Row kRows[] = {
    {NlbProtocol::kTcp, {NlbProtocol::kTcp, NlbProtocol::kTcpUdp}, 2, "TCP or TCP_UDP"},
    {NlbProtocol::kTls, {NlbProtocol::kTcp, NlbProtocol::kTls}, 2, "TCP or TLS"},
    {NlbProtocol::kUdp, {NlbProtocol::kUdp, NlbProtocol::kTcpUdp}, 2, "UDP or TCP_UDP"},
    {NlbProtocol::kTcpUdp, {NlbProtocol::kTcpUdp, NlbProtocol::kTcpUdp}, 1, "TCP_UDP"},
    {NlbProtocol::kQuic, {NlbProtocol::kQuic, NlbProtocol::kTcpQuic}, 2, "QUIC or TCP_QUIC"},
    {NlbProtocol::kTcpQuic, {NlbProtocol::kTcpQuic, NlbProtocol::kTcpQuic}, 1, "TCP_QUIC"},
};

const Row& RowOf(NlbProtocol listener) {
  for (const Row& row : kRows) {
    if (row.listener == listener) return row;
  }
  return kRows[0];  // unreachable: every enumerator has a row
}

Error ConfigError(std::string message) {
  return Error{ErrorSource::kConfig, std::move(message), false};
}

}  // namespace

std::optional<NlbProtocol> ParseNlbProtocol(std::string_view text) {
  if (text == "TCP") return NlbProtocol::kTcp;
  if (text == "TLS") return NlbProtocol::kTls;
  if (text == "UDP") return NlbProtocol::kUdp;
  if (text == "TCP_UDP") return NlbProtocol::kTcpUdp;
  if (text == "QUIC") return NlbProtocol::kQuic;
  if (text == "TCP_QUIC") return NlbProtocol::kTcpQuic;
  return std::nullopt;
}

std::string_view ToString(NlbProtocol protocol) {
  switch (protocol) {
    case NlbProtocol::kTcp:
      return "TCP";
    case NlbProtocol::kTls:
      return "TLS";
    case NlbProtocol::kUdp:
      return "UDP";
    case NlbProtocol::kTcpUdp:
      return "TCP_UDP";
    case NlbProtocol::kQuic:
      return "QUIC";
    case NlbProtocol::kTcpQuic:
      return "TCP_QUIC";
  }
  return "?";
}

bool IsCompatible(NlbProtocol listener, NlbProtocol target_group) {
  const Row& row = RowOf(listener);
  for (int i = 0; i < row.count; ++i) {
    if (row.allowed[i] == target_group) return true;
  }
  return false;
}

std::optional<Error> CheckListenerTargetGroup(NlbProtocol listener, NlbProtocol target_group,
                                              bool alb_target_type) {
  std::string l(ToString(listener));
  std::string tg(ToString(target_group));
  if (alb_target_type && target_group != NlbProtocol::kTcp) {
    return ConfigError(
        "IncompatibleProtocols: a target group of target type 'alb' must use "
        "protocol TCP, not '" +
        tg + "'");
  }
  if (IsCompatible(listener, target_group)) return std::nullopt;
  return ConfigError("IncompatibleProtocols: listener protocol '" + l +
                     "' is not compatible with target group protocol '" + tg + "' (a " + l +
                     " listener forwards to " + std::string(RowOf(listener).allowed_text) +
                     " target groups)");
}

std::optional<Error> CheckListenerTargetGroup(std::string_view listener,
                                              std::string_view target_group, bool alb_target_type) {
  std::optional<NlbProtocol> l = ParseNlbProtocol(listener);
  if (!l) {
    return ConfigError("ValidationError: '" + std::string(listener) +
                       "' is not a Network Load Balancer listener protocol");
  }
  std::optional<NlbProtocol> tg = ParseNlbProtocol(target_group);
  if (!tg) {
    return ConfigError("ValidationError: '" + std::string(target_group) +
                       "' is not a Network Load Balancer target group protocol");
  }
  return CheckListenerTargetGroup(*l, *tg, alb_target_type);
}

}  // namespace sluice::nlb
