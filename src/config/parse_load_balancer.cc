// Walks LoadBalancers (with their attributes and listeners) and Admin (reference §3.1).
#include <algorithm>
#include <map>
#include <string>

#include "config/parse.h"
#include "config/s3.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

constexpr std::string_view kSupportedAttributes[] = {
    "idle_timeout.timeout_seconds",
    "client_keep_alive.seconds",
    "routing.http.desync_mitigation_mode",
    "routing.http.drop_invalid_header_fields.enabled",
    "routing.http.preserve_host_header.enabled",
    "routing.http.xff_client_port.enabled",
    "routing.http.xff_header_processing.mode",
    "deletion_protection.enabled",
    "routing.http2.enabled",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
    "access_logs.s3.enabled",
    "access_logs.s3.bucket",
    "access_logs.s3.prefix",
    "sluice.access_logs.directory",
    "connection_logs.s3.enabled",
    "connection_logs.s3.bucket",
    "connection_logs.s3.prefix",
    "sluice.connection_logs.directory",
    "health_check_logs.s3.enabled",
    "health_check_logs.s3.bucket",
    "health_check_logs.s3.prefix",
    "sluice.health_check_logs.directory",
    "sluice.routing.http2.cleartext.enabled",
    "sluice.routing.http2.websocket.enabled",
};

// elbv2 load balancer attributes Sluice knows of but does not implement.
constexpr std::string_view kUnsupportedAttributes[] = {
    "load_balancing.cross_zone.enabled",
    "ipv6.deny_all_igw_traffic",
    "zonal_shift.config.enabled",
    "connection_logs.s3.enabled",
    "connection_logs.s3.bucket",
    "connection_logs.s3.prefix",
    "waf.fail_open.enabled",
    "dns_record.client_routing_policy",
    "secondary_ips.auto_assigned.per_subnet",
};

// What a network load balancer takes of those (reference §8: its listeners carry no HTTP, and
// of the logs only TLS listeners' access log exists, §5.7).
constexpr std::string_view kNetworkAttributes[] = {
    "deletion_protection.enabled", "access_logs.s3.enabled",       "access_logs.s3.bucket",
    "access_logs.s3.prefix",       "sluice.access_logs.directory",
};

// An application load balancer's attribute on a network one: an error naming what it takes.
bool RefusedOnNetwork(Reader& r, const MapReader::Entry& e) {
  auto in = [&](const auto& list) {
    return std::find(std::begin(list), std::end(list), e.key) != std::end(list);
  };
  if (!in(kSupportedAttributes) || in(kNetworkAttributes)) return false;
  r.AddError(e.key_mark, e.value.path,
             "load balancer attribute " + QuoteValue(e.key) +
                 " is for application load balancers; a network load balancer takes: " +
                 JoinNames(std::vector<std::string_view>(std::begin(kNetworkAttributes),
                                                         std::end(kNetworkAttributes))));
  return true;
}

std::string SupportedList() {
  return JoinNames(std::vector<std::string_view>(std::begin(kSupportedAttributes),
                                                 std::end(kSupportedAttributes)));
}

void SetBool(Reader& r, const Field& f, bool* out) {
  if (auto b = ReadBool(r, f)) *out = *b;
}

// <kind>.s3.* and sluice.<kind>.directory, kind "access_logs", "connection_logs" or
// "health_check_logs"
// (reference §3.1, §5.1). `name` is the key without the kind ("s3.enabled", ...).
void ParseLogAttribute(Reader& r, const MapReader::Entry& e, std::string_view name,
                       LoadBalancerAttributes::LogSettings* out) {
  const std::string& key = e.key;
  const Field& f = e.value;
  if (name == "s3.enabled") {
    SetBool(r, f, &out->enabled);
    return;
  }
  if (name == "directory") {
    Location where;
    ReadFilePath(r, f, &out->directory, &where);
    return;
  }
  std::optional<std::string> s = ReadString(r, f);
  if (!s) return;
  if (name == "s3.bucket") {
    if (s->empty() || IsValidS3BucketName(*s)) {
      out->bucket = *s;
    } else {
      r.AddError(f, key + " " + QuoteValue(*s) +
                        " is not an S3 bucket name (3..63 of a-z 0-9 . -, starting and ending "
                        "with a letter or digit)");
    }
  } else if (s->find("AWSLogs") != std::string::npos) {
    // AWS refuses it: the key part from AWSLogs on is the load balancer's (§5.1).
    r.AddError(f, key + " " + QuoteValue(*s) + " must not contain \"AWSLogs\"");
  } else if (!s->empty() && (s->front() == '/' || s->back() == '/')) {
    r.AddError(
        f, key + " " + QuoteValue(*s) + " must not start or end with \"/\" (the key adds its own)");
  } else {
    out->prefix = *s;
  }
}

// The log attribute `key` names: its kind's settings and the rest of the key; false when
// `key` is not one.
bool SplitLogAttribute(const std::string& key, LoadBalancerAttributes* a,
                       LoadBalancerAttributes::LogSettings** settings, std::string_view* name) {
  for (std::string_view kind : {"access_logs", "connection_logs", "health_check_logs"}) {
    LoadBalancerAttributes::LogSettings* s = kind == "access_logs"       ? &a->access_logs
                                             : kind == "connection_logs" ? &a->connection_logs
                                                                         : &a->health_check_logs;
    std::string_view k = key;
    if (k.starts_with("sluice.") && k.substr(7).starts_with(kind) &&
        k.substr(7 + kind.size()) == ".directory") {
      *settings = s;
      *name = "directory";
      return true;
    }
    if (k.starts_with(kind) && k.size() > kind.size() && k[kind.size()] == '.') {
      std::string_view rest = k.substr(kind.size() + 1);
      if (rest == "s3.enabled" || rest == "s3.bucket" || rest == "s3.prefix") {
        *settings = s;
        *name = rest;
        return true;
      }
    }
  }
  return false;
}

// Logs need a local directory: files are written there (and uploaded from there when the
// config has an S3 section).
void CheckLogs(Reader& r, const Field& field, const LoadBalancerAttributes& a) {
  for (std::string_view kind : {"access_logs", "connection_logs", "health_check_logs"}) {
    const LoadBalancerAttributes::LogSettings& s = kind == "access_logs" ? a.access_logs
                                                   : kind == "connection_logs"
                                                       ? a.connection_logs
                                                       : a.health_check_logs;
    if (!s.enabled || !s.directory.empty()) continue;
    const std::string k(kind);
    r.AddError(field, k + ".s3.enabled is true but sluice." + k +
                          ".directory is not set: Sluice writes " +
                          (kind == "access_logs"       ? "access"
                           : kind == "connection_logs" ? "connection"
                                                       : "health check") +
                          " log files to a local directory (and uploads them from there)");
  }
}

// `network`: a network load balancer's, which takes only kNetworkAttributes.
void ParseAttributes(Reader& r, const Field& field, bool network, LoadBalancerAttributes* out) {
  MapReader m = OpenFreeMap(r, field);
  LoadBalancerAttributes::LogSettings* log_settings = nullptr;
  std::string_view log_name;
  for (const MapReader::Entry& e : m.entries()) {
    const std::string& key = e.key;
    const Field& f = e.value;
    if (network && RefusedOnNetwork(r, e)) continue;
    if (key == "idle_timeout.timeout_seconds") {
      if (auto v = ReadInt(r, f, 1, 4000, key)) out->idle_timeout_seconds = static_cast<int>(*v);
    } else if (key == "client_keep_alive.seconds") {
      if (auto v = ReadInt(r, f, 60, 604800, key)) {
        out->client_keep_alive_seconds = static_cast<int>(*v);
      }
    } else if (key == "routing.http.desync_mitigation_mode") {
      if (auto v = ReadEnum(r, f, key, {"monitor", "defensive", "strictest"})) {
        out->desync_mitigation_mode = *v == "monitor"     ? DesyncMitigationMode::kMonitor
                                      : *v == "defensive" ? DesyncMitigationMode::kDefensive
                                                          : DesyncMitigationMode::kStrictest;
      }
    } else if (key == "routing.http.drop_invalid_header_fields.enabled") {
      SetBool(r, f, &out->drop_invalid_header_fields);
    } else if (key == "routing.http.preserve_host_header.enabled") {
      SetBool(r, f, &out->preserve_host_header);
    } else if (key == "routing.http.xff_client_port.enabled") {
      SetBool(r, f, &out->xff_client_port);
    } else if (key == "routing.http.xff_header_processing.mode") {
      if (auto v = ReadEnum(r, f, key, {"append", "preserve", "remove"})) {
        out->xff_header_processing_mode = *v == "append"     ? XffProcessingMode::kAppend
                                          : *v == "preserve" ? XffProcessingMode::kPreserve
                                                             : XffProcessingMode::kRemove;
      }
    } else if (key == "deletion_protection.enabled") {
      SetBool(r, f, &out->deletion_protection);
    } else if (key == "routing.http2.enabled") {
      SetBool(r, f, &out->http2_enabled);
    } else if (key == "sluice.routing.http2.cleartext.enabled") {
      SetBool(r, f, &out->http2_cleartext);
    } else if (key == "sluice.routing.http2.websocket.enabled") {
      SetBool(r, f, &out->http2_websocket);
    } else if (key == "routing.http.x_amzn_tls_version_and_cipher_suite.enabled") {
      SetBool(r, f, &out->tls_version_and_cipher_headers);
    } else if (SplitLogAttribute(key, out, &log_settings, &log_name)) {
      ParseLogAttribute(r, e, log_name, log_settings);
    } else if (std::find(std::begin(kUnsupportedAttributes), std::end(kUnsupportedAttributes),
                         key) != std::end(kUnsupportedAttributes)) {
      r.AddError(e.key_mark, f.path,
                 "load balancer attribute " + QuoteValue(key) +
                     " is not supported by Sluice; supported: " + SupportedList());
    } else {
      r.AddError(
          e.key_mark, f.path,
          "unknown load balancer attribute " + QuoteValue(key) + "; supported: " + SupportedList());
    }
  }
  CheckLogs(r, field, *out);
}

// Reads an IP address field into *text / *ip; false after an error.
bool ReadAddress(Reader& r, const Field& f, std::string_view noun, std::string* text,
                 IpAddress* ip) {
  std::optional<std::string> s = ReadString(r, f);
  if (!s) return !f.present;
  std::optional<IpAddress> parsed = IpAddress::Parse(*s);
  if (!parsed) {
    r.AddError(f, std::string(noun) + " " + QuoteValue(*s) + " is not an IP address");
    return false;
  }
  *text = *s;
  *ip = *parsed;
  return true;
}

void ParseListener(LoadContext& ctx, const Field& item, Listener* out) {
  Reader& r = ctx.reader;
  out->location = LocationOf(item.mark);
  MapReader m(
      r, item,
      {"Id", "Tags", "Protocol", "Port", "BindAddress", "DefaultActions", "Rules", "Transforms",
       "SslPolicy", "Certificates", "MutualAuthentication", "AlpnPolicy", "Attributes"});
  if (!m.ok()) return;
  ReadArnId(r, m.Get("Id"), &out->id);
  ParseTags(r, m.Get("Tags"), &out->tags);
  if (Field t = m.Get("Transforms"); t.present) {
    // Accepted as a key only to say why it is refused (reference §1.4).
    r.AddError(t,
               "transforms are not allowed on the default rule (DefaultActions); put them on "
               "a rule in Rules");
  }
  ParseListenerProtocol(ctx, m, out);
  ParseMutualAuthentication(ctx, m, out);
  if (!ctx.current_bind_address.empty()) out->bind_address = ctx.current_bind_address;
  IpAddress ip = *IpAddress::Parse(out->bind_address);  // the default: the LB's, or 0.0.0.0
  bool address_ok = ReadAddress(r, m.Get("BindAddress"), "bind address", &out->bind_address, &ip);
  Field port = m.Require("Port");
  if (auto p = ReadInt(r, port, 1, 65535, "port")) {
    out->port = static_cast<int>(*p);
    if (address_ok) {
      const uint8_t transports = out->protocol == "UDP"       ? kUdpEndpoint
                                 : out->protocol == "TCP_UDP" ? kTcpEndpoint | kUdpEndpoint
                                                              : kTcpEndpoint;
      ctx.endpoints.push_back(
          Endpoint{ip, out->bind_address, out->port, port.mark, port.path, item.path, transports});
    }
  }
  ParseActions(ctx, m.Require("DefaultActions"), &out->default_actions);
  const std::string& nlb = ctx.current_listener_protocol;
  if (IsNetworkProtocol(nlb)) {
    // A network listener forwards connections: no rules, no other action (reference §8.1).
    if (Field rules = m.Get("Rules"); rules.present) {
      r.AddError(rules, "a " + nlb +
                            " listener has no rules; its DefaultActions forward every connection");
    }
    for (const Action& a : out->default_actions) {
      if (a.type != ActionType::kForward) {
        r.AddError(m.Get("DefaultActions"), "a " + nlb + " listener's only action is forward");
        break;
      }
    }
    return;
  }
  ParseRules(ctx, m.Get("Rules"), &out->rules);
}

}  // namespace

void ParseLoadBalancers(LoadContext& ctx, const Field& field, std::vector<LoadBalancer>* out) {
  Reader& r = ctx.reader;
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  std::map<std::string, std::pair<std::string, int>> names;  // name -> (path, line)
  for (const Field& item : *items) {
    ctx.current_load_balancer = static_cast<int>(out->size());
    LoadBalancer lb;
    lb.location = LocationOf(item.mark);
    MapReader m(r, item, {"Name", "Type", "BindAddress", "Tags", "Attributes", "Listeners"});
    ctx.current_bind_address.clear();
    ctx.current_type = "application";
    if (m.ok()) {
      Field type = m.Get("Type");
      if (auto t = ReadEnum(r, type, "load balancer type", {"application", "network"})) {
        lb.type = *t;
        ctx.current_type = *t;
      } else if (type.present) {
        ctx.current_type.clear();  // unknown: its listeners' protocols are not judged by it
      }
      ParseTags(r, m.Get("Tags"), &lb.tags);
      if (Field b = m.Get("BindAddress"); b.present) {
        IpAddress ip = *IpAddress::Parse("0.0.0.0");
        std::string address;
        if (ReadAddress(r, b, "bind address", &address, &ip)) {
          lb.bind_address = address;
          ctx.current_bind_address = address;
        }
      }
      Field name_field = m.Require("Name");
      if (std::optional<std::string> name = ReadString(r, name_field)) {
        std::string message = CheckResourceName(*name);
        if (!message.empty()) r.AddError(name_field, message);
        lb.name = *name;
        auto [it, inserted] =
            names.emplace(*name, std::make_pair(item.path, LocationOf(name_field.mark).line));
        if (!inserted) {
          r.AddError(name_field, "duplicate load balancer name " + QuoteValue(*name) +
                                     "; first defined at " + it->second.first + " (line " +
                                     std::to_string(it->second.second) + ")");
        }
      }
      ParseAttributes(r, m.Get("Attributes"), lb.type == "network", &lb.attributes);
      if (std::optional<std::vector<Field>> listeners = ReadList(r, m.Get("Listeners"))) {
        for (const Field& l : *listeners) {
          Listener listener;
          ParseListener(ctx, l, &listener);
          lb.listeners.push_back(std::move(listener));
        }
      }
    }
    out->push_back(std::move(lb));
  }
  ctx.current_load_balancer = -1;
  ctx.current_bind_address.clear();
  ctx.current_type = "application";
  ctx.current_listener_protocol.clear();
}

namespace {

// Address and Port of a control endpoint (Admin, Api); port 0 = off.
void ParseControlEndpoint(LoadContext& ctx, MapReader& m, const char* what, const char* noun,
                          std::string* address, int* port_out) {
  Reader& r = ctx.reader;
  IpAddress ip = *IpAddress::Parse(*address);
  bool address_ok = ReadAddress(r, m.Get("Address"), std::string(noun) + " address", address, &ip);
  Field port = m.Get("Port");
  if (auto p = ReadInt(r, port, 0, 65535, "port")) {
    *port_out = static_cast<int>(*p);
    if (address_ok && *port_out != 0) {
      ctx.endpoints.push_back(Endpoint{ip, *address, *port_out, port.mark, port.path, what});
    }
  }
}

}  // namespace

void ParseAdmin(LoadContext& ctx, const Field& field, AdminSettings* out) {
  MapReader m(ctx.reader, field, {"Address", "Port", "MetricsResolutionSeconds", "TokenFile"});
  if (!m.ok()) return;
  ParseControlEndpoint(ctx, m, "Admin", "admin", &out->address, &out->port);
  Field token = m.Get("TokenFile");
  if (token.present) ReadFilePath(ctx.reader, token, &out->token_file, &out->token_file_location);
  auto ip = IpAddress::Parse(out->address);
  if (out->port != 0 && out->token_file.empty() && ip && !IsLoopback(*ip)) {
    ctx.reader.AddError(m.Get("Address"),
                        "the admin endpoint on " + out->address +
                            " is reachable beyond this host: set Admin.TokenFile (a file "
                            "holding the token its clients must send) or bind 127.0.0.1");
  }
  Field resolution = m.Get("MetricsResolutionSeconds");
  if (auto s = ReadInt(ctx.reader, resolution, 1, 60, "seconds")) {
    if (60 % *s != 0) {
      ctx.reader.AddError(resolution, "metrics resolution " + std::to_string(*s) +
                                          " s must divide a minute: 1, 2, 3, 4, 5, 6, 10, 12, "
                                          "15, 20, 30 or 60");
    } else {
      out->metrics_resolution_seconds = static_cast<int>(*s);
    }
  }
}

void ParseApi(LoadContext& ctx, const Field& field,
              const std::vector<CertificateDefinition>& certificates, ApiSettings* out) {
  MapReader m(ctx.reader, field, {"Address", "Port", "Certificate"});
  if (!m.ok()) return;
  ParseControlEndpoint(ctx, m, "Api", "API", &out->address, &out->port);
  Field cert = m.Get("Certificate");
  if (!cert.present) return;
  std::optional<std::string> name = ReadString(ctx.reader, cert);
  if (!name) return;
  const bool known = std::any_of(certificates.begin(), certificates.end(),
                                 [&](const CertificateDefinition& d) { return d.name == *name; });
  if (known) {
    out->certificate = *name;
  } else {
    ctx.reader.AddError(
        cert, "certificate " + QuoteValue(*name) + " is not one of the config's Certificates");
  }
}

void ReadArnId(Reader& r, const Field& field, std::string* out) {
  if (!field.present) return;
  std::optional<std::string> s = ReadString(r, field);
  if (!s) return;
  bool hex = s->size() == 16 && std::all_of(s->begin(), s->end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
             });
  if (!hex) {
    r.AddError(field, "id " + QuoteValue(*s) + " must be 16 lower-case hex digits");
    return;
  }
  *out = *s;
}

}  // namespace sluice::config::internal

namespace sluice::config::internal {

void ParseAccount(LoadContext& ctx, const Field& field, AccountSettings* out) {
  Reader& r = ctx.reader;
  MapReader m(r, field, {"Id", "Region"});
  if (!m.ok()) return;
  if (Field f = m.Get("Id"); f.present) {
    if (std::optional<std::string> s = ReadString(r, f)) {
      bool digits = s->size() == 12 &&
                    std::all_of(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits) {
        out->id = *s;
      } else {
        r.AddError(f, "account id " + QuoteValue(*s) + " must be 12 digits");
      }
    }
  }
  ReadRegion(r, m.Get("Region"), &out->region);
}

void ReadRegion(Reader& r, const Field& f, std::string* out) {
  if (!f.present) return;
  if (std::optional<std::string> s = ReadString(r, f)) {
    if (IsRegionName(*s)) {
      *out = *s;
    } else {
      r.AddError(f, "region " + QuoteValue(*s) +
                        " is not a region name (lower-case words and a number joined by "
                        "'-', like us-east-1)");
    }
  }
}

// Like AWS's names: letters-and-dashes words, then a number: "us-east-1", "us-gov-west-1".
bool IsRegionName(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  size_t dash = s.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == s.size()) return false;
  for (size_t i = 0; i < dash; ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c == '-' && i > 0 && s[i - 1] != '-');
    if (!ok) return false;
  }
  for (size_t i = dash + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

}  // namespace sluice::config::internal
