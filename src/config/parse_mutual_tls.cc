// Walks TrustStores and a listener's MutualAuthentication and Attributes (reference §7.4,
// §3.3).
#include <set>
#include <string>

#include "base/ascii.h"
#include "config/parse.h"
#include "config/quote.h"
#include "config/validate.h"

namespace sluice::config::internal {
namespace {

// "name", or a trust store ARN "arn:...:truststore/<name>/<id>".
std::string TrustStoreNameOf(const std::string& reference) {
  if (reference.rfind("arn:", 0) != 0) return reference;
  size_t at = reference.rfind(":truststore/");
  if (at == std::string::npos) return reference;
  std::string rest = reference.substr(at + 12);
  return rest.substr(0, rest.find('/'));
}

// RFC 9110 token characters, 1..64 of them: what a header field name may hold.
bool IsHeaderName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

constexpr std::string_view kHeaderNameKeys[] = {
    "routing.http.request.x_amzn_mtls_clientcert.header_name",
    "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name",
    "routing.http.request.x_amzn_mtls_clientcert_issuer.header_name",
    "routing.http.request.x_amzn_mtls_clientcert_subject.header_name",
    "routing.http.request.x_amzn_mtls_clientcert_validity.header_name",
    "routing.http.request.x_amzn_mtls_clientcert_leaf.header_name",
    "routing.http.request.x_amzn_tls_version.header_name",
    "routing.http.request.x_amzn_tls_cipher_suite.header_name",
};

std::string* HeaderNameSlot(ListenerAttributes* a, size_t i) {
  std::string* slots[] = {&a->mtls_clientcert, &a->mtls_serial_number, &a->mtls_issuer,
                          &a->mtls_subject,    &a->mtls_validity,      &a->mtls_leaf,
                          &a->tls_version,     &a->tls_cipher_suite};
  static_assert(std::size(slots) == std::size(kHeaderNameKeys));
  return slots[i];
}

constexpr char kMaxConnections[] = "sluice.max_connections";

// Sluice's cap on a listener's connections, which every listener but a UDP one takes; false
// when `e` is another key.
bool ParseMaxConnections(Reader& r, const MapReader::Entry& e, ListenerAttributes* out) {
  if (e.key != kMaxConnections) return false;
  if (auto v = ReadInt(r, e.value, 1, 1000000, kMaxConnections)) {
    out->max_connections = static_cast<int>(*v);
  }
  return true;
}

// A TCP listener's attributes: tcp.idle_timeout.seconds (reference §8.5) and the cap.
void ParseTcpListenerAttributes(Reader& r, const Field& field, ListenerAttributes* out) {
  MapReader m = OpenFreeMap(r, field);
  for (const MapReader::Entry& e : m.entries()) {
    if (ParseMaxConnections(r, e, out)) continue;
    if (e.key != "tcp.idle_timeout.seconds") {
      r.AddError(e.key_mark, e.value.path,
                 "unknown TCP listener attribute " + QuoteValue(e.key) +
                     "; supported: tcp.idle_timeout.seconds, sluice.max_connections");
      continue;
    }
    if (auto v = ReadInt(r, e.value, 60, 6000, "tcp.idle_timeout.seconds")) {
      out->tcp_idle_timeout_seconds = static_cast<int>(*v);
    }
  }
}

void ParseListenerAttributes(Reader& r, const Field& field, const std::string& protocol,
                             ListenerAttributes* out) {
  if (protocol == "TCP") return ParseTcpListenerAttributes(r, field, out);
  MapReader m = OpenFreeMap(r, field);
  if (protocol == "TCP_UDP") return ParseTcpListenerAttributes(r, field, out);  // its TCP side
  if (protocol == "TLS" || protocol == "UDP") {
    // NLB's TLS and UDP listeners take no attribute: their idle timeouts are fixed at 350 s
    // and 120 s (§8.5). A TLS listener takes Sluice's connection cap (UDP flows have theirs).
    for (const MapReader::Entry& e : m.entries()) {
      if (protocol == "TLS" && ParseMaxConnections(r, e, out)) continue;
      r.AddError(e.key_mark, e.value.path,
                 "unknown " + protocol + " listener attribute " + QuoteValue(e.key) + "; a " +
                     protocol + " listener has none (its idle timeout is fixed at " +
                     (protocol == "TLS" ? "350 seconds; Sluice's sluice.max_connections is "
                                          "supported"
                                        : "120 seconds") +
                     ")");
    }
    return;
  }
  std::string supported;
  for (std::string_view k : kHeaderNameKeys)
    supported += (supported.empty() ? "" : ", ") + std::string(k);
  supported += std::string(", ") + kMaxConnections;
  for (const MapReader::Entry& e : m.entries()) {
    if (ParseMaxConnections(r, e, out)) continue;
    size_t i = 0;
    while (i < std::size(kHeaderNameKeys) && kHeaderNameKeys[i] != e.key) ++i;
    if (i == std::size(kHeaderNameKeys)) {
      r.AddError(e.key_mark, e.value.path,
                 "unknown listener attribute " + QuoteValue(e.key) + "; supported: " + supported);
      continue;
    }
    std::optional<std::string> v = ReadString(r, e.value);
    if (!v) continue;
    if (!IsHeaderName(*v)) {
      r.AddError(e.value, "header name " + QuoteValue(*v) +
                              " is invalid; use 1..64 token characters (letters, digits, "
                              "!#$%&'*+-.^_`|~)");
      continue;
    }
    *HeaderNameSlot(out, i) = *v;
  }
}

// CaCertificatesBundleFile (a path) or CaCertificatesBundle (the PEM text itself, what the
// API's CreateTrustStore stores): exactly one of them.
void ReadCaBundle(Reader& r, const MapReader& m, TrustStoreDefinition* def) {
  const Field inline_bundle = m.Get("CaCertificatesBundle");
  if (!inline_bundle.present) {
    ReadFilePath(r, m.Require("CaCertificatesBundleFile"), &def->ca_bundle_file,
                 &def->ca_bundle_file_location);
    return;
  }
  if (m.Has("CaCertificatesBundleFile")) {
    r.AddError(inline_bundle, "give CaCertificatesBundleFile or CaCertificatesBundle, not both");
    return;
  }
  if (std::optional<std::string> pem = ReadString(r, inline_bundle)) {
    if (pem->empty()) {
      r.AddError(inline_bundle, "the CA certificates bundle is empty");
      return;
    }
    def->ca_bundle_pem = std::move(*pem);
    def->ca_bundle_file_location = LocationOf(inline_bundle.mark);
  }
}

// Revocations: [{RevocationId, Crl}], ids unique, at most 30 with RevocationFiles.
void ReadRevocations(Reader& r, const Field& field, TrustStoreDefinition* def) {
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  if (items->size() + def->revocation_files.size() > 30) {
    r.AddError(field, "at most 30 revocation lists per trust store (files and held ones)");
  }
  std::set<int64_t> ids;
  for (const Field& item : *items) {
    MapReader m(r, item, {"RevocationId", "Crl"});
    if (!m.ok()) continue;
    const Field id_field = m.Require("RevocationId");
    const std::optional<int64_t> id = ReadInt(r, id_field, 1, kMaxRevocationId, "revocation id");
    const Field crl_field = m.Require("Crl");
    std::optional<std::string> crl = ReadString(r, crl_field);
    if (!id || !crl) continue;
    if (!ids.insert(*id).second) {
      r.AddError(id_field, "duplicate revocation id " + std::to_string(*id));
    } else if (crl->empty() || crl->size() > kMaxHeldCrlBytes) {
      r.AddError(crl_field, crl->empty() ? std::string("the revocation list is empty")
                                         : "the revocation list is over " +
                                               std::to_string(kMaxHeldCrlBytes) + " bytes");
    } else {
      def->revocations.push_back(
          TrustStoreRevocation{*id, std::move(*crl), LocationOf(crl_field.mark)});
    }
  }
}

}  // namespace

void ParseTrustStores(LoadContext& ctx, const Field& field,
                      std::vector<TrustStoreDefinition>* out) {
  Reader& r = ctx.reader;
  std::optional<std::vector<Field>> items = ReadList(r, field);
  if (!items) return;
  std::set<std::string> names;
  for (const Field& item : *items) {
    MapReader m(r, item,
                {"Name", "CaCertificatesBundleFile", "CaCertificatesBundle", "RevocationFiles",
                 "Revocations", "NextRevocationId", "Tags"});
    if (!m.ok()) continue;
    TrustStoreDefinition def;
    def.location = LocationOf(item.mark);
    def.path = item.path;
    Field name_field = m.Require("Name");
    if (std::optional<std::string> name = ReadString(r, name_field)) {
      std::string message = CheckResourceName(*name);
      if (!message.empty()) {
        r.AddError(name_field, "trust store " + message);
      } else if (!names.insert(*name).second) {
        r.AddError(name_field, "duplicate trust store name " + QuoteValue(*name));
      } else {
        def.name = *name;
        ctx.trust_store_names.push_back(*name);
      }
    }
    ReadCaBundle(r, m, &def);
    ParseTags(r, m.Get("Tags"), &def.tags);
    if (std::optional<std::vector<Field>> files = ReadList(r, m.Get("RevocationFiles"))) {
      if (files->size() > 30) {
        r.AddError(m.Get("RevocationFiles"), "at most 30 revocation files per trust store");
      }
      for (const Field& f : *files) {
        std::string path;
        Location where;
        if (ReadFilePath(r, f, &path, &where)) {
          def.revocation_files.push_back(std::move(path));
          def.revocation_file_locations.push_back(where);
        }
      }
    }
    ReadRevocations(r, m.Get("Revocations"), &def);
    if (m.Has("NextRevocationId")) {
      def.next_revocation_id =
          ReadInt(r, m.Get("NextRevocationId"), 1, kMaxRevocationId + 1, "next revocation id")
              .value_or(0);
    }
    out->push_back(std::move(def));
  }
}

void ParseMutualAuthentication(LoadContext& ctx, const MapReader& listener, Listener* out) {
  Reader& r = ctx.reader;
  const bool tls = out->protocol == "TLS";
  const bool udp = out->protocol == "UDP" || out->protocol == "TCP_UDP";
  const bool tcp = out->protocol == "TCP" || (ctx.current_type == "network" && !tls && !udp);
  ParseListenerAttributes(r, listener.Get("Attributes"), tcp ? "TCP" : out->protocol,
                          &out->attributes);
  Field field = listener.Get("MutualAuthentication");
  if (!field.present) return;
  if (out->protocol != "HTTPS" && !tls) {
    r.AddError(field, "MutualAuthentication is only for HTTPS and TLS listeners");
    return;
  }
  MutualAuthentication& ma = out->mutual_authentication;
  ma.location = LocationOf(field.mark);
  MapReader m(
      r, field,
      {"Mode", "TrustStoreArn", "IgnoreClientCertificateExpiry", "AdvertiseTrustStoreCaNames"});
  if (!m.ok()) return;
  if (auto mode = ReadEnum(r, m.Get("Mode"), "mode", {"off", "passthrough", "verify"})) {
    ma.mode = *mode == "verify"        ? MutualTlsMode::kVerify
              : *mode == "passthrough" ? MutualTlsMode::kPassthrough
                                       : MutualTlsMode::kOff;
    if (tls && ma.mode == MutualTlsMode::kPassthrough) {
      // Passthrough forwards the certificate in an HTTP header; a TLS listener has none.
      r.AddError(m.Get("Mode"), "a TLS listener's mutual TLS mode is off or verify");
      ma.mode = MutualTlsMode::kOff;
    }
  }
  Field store = m.Get("TrustStoreArn");
  Field ignore = m.Get("IgnoreClientCertificateExpiry");
  Field advertise = m.Get("AdvertiseTrustStoreCaNames");
  if (auto v = ReadBool(r, ignore)) ma.ignore_client_certificate_expiry = *v;
  if (auto v = ReadEnum(r, advertise, "AdvertiseTrustStoreCaNames", {"on", "off"})) {
    ma.advertise_trust_store_ca_names = *v == "on";
  }
  if (ma.mode != MutualTlsMode::kVerify) {
    // As the API: a trust store and its options belong to verify mode.
    for (const Field* f : {&store, &ignore, &advertise}) {
      if (f->present) r.AddError(*f, "only mode verify takes a trust store and its options");
    }
    return;
  }
  if (!store.present) {
    r.AddError(m.Get("Mode"), "mode verify needs TrustStoreArn (a TrustStores Name or ARN)");
    return;
  }
  std::optional<std::string> text = ReadString(r, store);
  if (!text) return;
  std::string name = TrustStoreNameOf(*text);
  bool known = false;
  for (const std::string& n : ctx.trust_store_names) known |= n == name;
  if (!known) {
    std::string defined;
    for (const std::string& n : ctx.trust_store_names) defined += (defined.empty() ? "" : ", ") + n;
    r.AddError(store, "trust store " + QuoteValue(name) + " is not defined" +
                          (defined.empty() ? std::string("; TrustStores is empty")
                                           : "; defined: " + defined));
    return;
  }
  ma.trust_store = name;
}

}  // namespace sluice::config::internal
