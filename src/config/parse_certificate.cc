// Walks the certificate store (top-level Certificates) and the TLS fields of listeners
// (Protocol, SslPolicy, Certificates; reference §3.2, §7). The files themselves are read by
// the TLS module when the config is compiled; here only their names and paths are checked.
#include <set>
#include <string>

#include "config/alpn_policies.h"
#include "config/parse.h"
#include "config/ssl_policies.h"

namespace sluice::config::internal {
namespace {

constexpr size_t kMaxCertificateName = 128;
constexpr size_t kMaxListenerCertificates = 26;  // the default + 25 for SNI (§7.3)

std::string CheckCertificateName(std::string_view name) {
  if (name.empty() || name.size() > kMaxCertificateName) {
    return "certificate name must be 1..128 characters";
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return "certificate name " + QuoteValue(name) +
             " may contain only letters, digits, '.', '_' and '-'";
    }
  }
  return "";
}

// "name", or an ACM-style ARN whose resource is "certificate/<name>".
std::string CertificateNameOf(const std::string& reference) {
  if (reference.rfind("arn:", 0) != 0) return reference;
  size_t at = reference.rfind(":certificate/");
  if (at == std::string::npos) return reference;
  return reference.substr(at + 13);
}

void ParseListenerCertificates(LoadContext& ctx, const Field& field, Listener* out) {
  Reader& r = ctx.reader;
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  if (items->size() > kMaxListenerCertificates) {
    r.AddError(field,
               "a listener takes at most 26 certificates (the default and 25 for SNI); "
               "got " +
                   std::to_string(items->size()));
    return;
  }
  for (const Field& item : *items) {
    Field value = item;
    if (item.node.IsMap()) {
      MapReader m(r, item, {"CertificateArn"});
      if (!m.ok()) continue;
      value = m.Require("CertificateArn");
    }
    std::optional<std::string> text = ReadString(r, value);
    if (!text) continue;
    std::string name = CertificateNameOf(*text);
    bool known = false;
    for (const std::string& n : ctx.certificate_names) known |= n == name;
    if (!known) {
      std::string defined;
      for (const std::string& n : ctx.certificate_names) {
        defined += (defined.empty() ? "" : ", ") + n;
      }
      r.AddError(value, "certificate " + QuoteValue(name) + " is not defined" +
                            (defined.empty() ? std::string("; Certificates is empty")
                                             : "; defined: " + defined));
      continue;
    }
    out->certificates.push_back({name, LocationOf(value.mark), value.path});
  }
}

}  // namespace

// `path` as written, or joined to the config file's directory when it is relative.
std::string ResolvePath(const std::string& config_file, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  size_t slash = config_file.rfind('/');
  if (slash == std::string::npos) return path;
  return config_file.substr(0, slash + 1) + path;
}

bool ReadFilePath(Reader& r, const Field& f, std::string* out, Location* where) {
  std::optional<std::string> s = ReadString(r, f);
  if (!s) return false;
  if (s->empty()) {
    r.AddError(f, "file path is empty");
    return false;
  }
  if (s->find('\0') != std::string::npos) {
    r.AddError(f, "file path contains a NUL character");
    return false;
  }
  *out = ResolvePath(r.file(), *s);
  *where = LocationOf(f.mark);
  return true;
}

void ParseCertificates(LoadContext& ctx, const Field& field,
                       std::vector<CertificateDefinition>* out) {
  Reader& r = ctx.reader;
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  std::set<std::string> names;
  for (const Field& item : *items) {
    MapReader m(r, item, {"Name", "CertificateFile", "PrivateKeyFile"});
    if (!m.ok()) continue;
    CertificateDefinition def;
    def.location = LocationOf(item.mark);
    def.path = item.path;
    Field name_field = m.Require("Name");
    if (std::optional<std::string> name = ReadString(r, name_field)) {
      std::string message = CheckCertificateName(*name);
      if (!message.empty()) {
        r.AddError(name_field, message);
      } else if (!names.insert(*name).second) {
        r.AddError(name_field, "duplicate certificate name " + QuoteValue(*name));
      } else {
        def.name = *name;
        ctx.certificate_names.push_back(*name);
      }
    }
    ReadFilePath(r, m.Require("CertificateFile"), &def.certificate_file,
                 &def.certificate_file_location);
    ReadFilePath(r, m.Require("PrivateKeyFile"), &def.private_key_file,
                 &def.private_key_file_location);
    out->push_back(std::move(def));
  }
}

// AlpnPolicy (TLS listeners, reference §7.5): one policy name, or a list of one as the API
// takes it. A TLS listener without it gets None.
void ReadAlpnPolicy(Reader& r, const Field& field, Listener* out) {
  if (out->protocol == "TLS") out->alpn_policy = "None";
  if (!field.present) return;
  if (out->protocol != "TLS") {
    r.AddError(field, "AlpnPolicy is only for TLS listeners");
    return;
  }
  std::optional<std::string> name;
  if (field.node.IsSequence()) {
    std::optional<std::vector<Field>> items = ReadList(r, field);
    if (!items) return;
    if (items->size() != 1) {
      r.AddError(field,
                 "AlpnPolicy takes exactly one policy; allowed: " + std::string(AlpnPolicyNames()));
      return;
    }
    name = ReadString(r, (*items)[0]);
  } else {
    name = ReadString(r, field);
  }
  if (!name) return;
  if (!ParseAlpnPolicy(*name)) {
    r.AddError(field, "ALPNPolicyNotFound: AlpnPolicy " + QuoteValue(*name) +
                          " is not a policy; allowed: " + std::string(AlpnPolicyNames()));
    return;
  }
  out->alpn_policy = *name;
}

void ParseListenerProtocol(LoadContext& ctx, const MapReader& m, Listener* out) {
  Reader& r = ctx.reader;
  Field protocol = m.Get("Protocol");
  const bool network = ctx.current_type == "network";
  if (network) out->protocol = "TCP";
  bool valid = protocol.present || !ctx.current_type.empty();  // an invalid Type: unknown
  if (std::optional<std::string> p =
          ReadEnum(r, protocol, "protocol", {"HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"})) {
    out->protocol = *p;
    const bool nlb_protocol = IsNetworkProtocol(*p);
    if (!ctx.current_type.empty() && network != nlb_protocol) {
      valid = false;
      r.AddError(protocol, "listener protocol " + *p + " is for load balancers of Type " +
                               (network ? "application" : "network") + "; this one is " +
                               (network ? "network (allowed: TCP, TLS, UDP, TCP_UDP)"
                                        : "application (allowed: HTTP, HTTPS)"));
    }
  }
  // Only a protocol that fits its load balancer is checked against the groups it forwards to.
  ctx.current_listener_protocol = valid ? out->protocol : "";
  ReadAlpnPolicy(r, m.Get("AlpnPolicy"), out);
  Field policy = m.Get("SslPolicy");
  Field certificates = m.Get("Certificates");
  const std::string& kind = out->protocol;
  if (kind != "HTTPS" && kind != "TLS") {
    if (policy.present) r.AddError(policy, "SslPolicy is only for HTTPS and TLS listeners");
    if (certificates.present) {
      r.AddError(certificates, "Certificates are only for HTTPS and TLS listeners");
    }
    return;
  }
  out->ssl_policy = std::string(kDefaultSslPolicy);
  if (std::optional<std::string> name = ReadString(r, policy)) {
    if (FindSslPolicy(*name) == nullptr) {
      std::string valid;
      for (const SslPolicy& p : SslPolicies())
        valid += (valid.empty() ? "" : ", ") + std::string(p.name);
      r.AddError(policy,
                 "SslPolicy " + QuoteValue(*name) + " is not a known policy; valid: " + valid);
    } else {
      out->ssl_policy = *name;
    }
  }
  if (!certificates.present) {
    r.AddError(m.Get("Protocol"),
               "a" + std::string(kind == "HTTPS" ? "n " : " ") + kind +
                   " listener needs a certificate: add Certificates with the name of one from "
                   "the top-level Certificates");
    return;
  }
  const size_t errors_before = r.error_count();
  ParseListenerCertificates(ctx, certificates, out);
  if (out->certificates.empty() && r.error_count() == errors_before) {
    r.AddError(certificates, "a" + std::string(kind == "HTTPS" ? "n " : " ") + kind +
                                 " listener needs at least one certificate");
  }
}

}  // namespace sluice::config::internal
