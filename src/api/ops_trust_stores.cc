// Trust stores and resource policies (reference §9.6): CreateTrustStore and ModifyTrustStore
// read a CA bundle from the S3-compatible store of the config's S3 section and keep it in the
// config (TrustStores[].CaCertificatesBundle); DeleteTrustStore, DescribeTrustStores and
// DescribeTrustStoreAssociations; the config file's TrustStores (bundles in files) are listed
// beside them. GetResourcePolicy answers as for an account that shares nothing through RAM.
// Revocation lists are in ops_revocations.cc, the bundle and list downloads in
// ops_trust_store_content.cc.
#include <openssl/bio.h>
#include <openssl/pem.h>

#include <algorithm>

#include "api/decode.h"
#include "api/service.h"
#include "api/xml.h"
#include "config/arn.h"
#include "config/validate.h"
#include "tls/trust_store.h"

namespace sluice::api {
namespace {

ApiError TrustStoreNotFound() {
  return SenderError("TrustStoreNotFound", "The specified trust store does not exist.");
}

// The trust stores `TrustStoreArns` or `Names` pick (each must exist), or all of them.
ApiResult<std::vector<size_t>> PickTrustStores(const CallContext& c) {
  const std::vector<config::TrustStoreDefinition>& stores = c.config.trust_stores;
  auto arns = c.params.List("TrustStoreArns");
  auto names = c.params.List("Names");
  if (arns && arns->size() > 20) {
    return Validation("", "trustStoreArns", "Member must have length less than or equal to 20");
  }
  std::vector<size_t> picked;
  auto pick = [&](auto matches) -> bool {
    auto it = std::find_if(stores.begin(), stores.end(), matches);
    if (it == stores.end()) return false;
    picked.push_back(static_cast<size_t>(it - stores.begin()));
    return true;
  };
  if (arns && !arns->empty()) {
    for (const std::string& arn : *arns) {
      if (!pick([&](const config::TrustStoreDefinition& s) {
            return config::TrustStoreArn(c.config.account, s.name) == arn;
          })) {
        return TrustStoreNotFound();
      }
    }
  } else if (names && !names->empty()) {
    for (const std::string& name : *names) {
      if (!pick([&](const config::TrustStoreDefinition& s) { return s.name == name; })) {
        return TrustStoreNotFound();
      }
    }
  } else {
    for (size_t i = 0; i < stores.size(); ++i) picked.push_back(i);
  }
  return picked;
}

constexpr size_t kMaxTrustStores = 20;  // per account (reference §10)

// One <member> of a TrustStores list: Name, TrustStoreArn, Status (ACTIVE: a store is loaded
// whenever the config is in force), for a bundle the config holds NumberOfCaCertificates, and
// without revocation files TotalRevokedEntries (of the lists the config holds). Files are not
// read here.
void WriteTrustStore(const config::Config& config, const config::TrustStoreDefinition& s,
                     XmlWriter* w) {
  w->Open("member")
      .Leaf("Name", s.name)
      .Leaf("TrustStoreArn", config::TrustStoreArn(config.account, s.name))
      .Leaf("Status", "ACTIVE");
  if (!s.ca_bundle_pem.empty()) {
    auto cas = tls::ParseCaBundle(s.ca_bundle_pem);
    if (auto* list = std::get_if<std::vector<tls::X509Ptr>>(&cas)) {
      w->Leaf("NumberOfCaCertificates", std::to_string(list->size()));
    }
  }
  if (s.revocation_files.empty()) {
    w->Leaf("TotalRevokedEntries", std::to_string(HeldRevokedEntries(s)));
  }
  w->Close("member");
}

ApiResult<OperationOutput> TrustStoreResult(const config::Config& config,
                                            const config::TrustStoreDefinition& s,
                                            std::optional<config::Config> next) {
  XmlWriter w;
  w.Open("TrustStores");
  WriteTrustStore(config, s, &w);
  w.Close("TrustStores");
  // Trust stores are read by listeners' mutual TLS, never by rules or groups.
  return OperationOutput{std::move(w.str()), std::move(next), {.outside_rules = true}};
}

// The certificates as PEM, nothing else: what the config keeps of a bundle (text around the
// blocks, bytes a YAML reload would refuse or change, and padding do not reach the state).
std::string PemOf(const std::vector<tls::X509Ptr>& cas) {
  std::string out;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return out;
  for (const tls::X509Ptr& ca : cas) {
    if (PEM_write_bio_X509(bio, ca.get()) != 1) {
      BIO_free(bio);
      return "";
    }
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  if (size > 0) out.assign(data, static_cast<size_t>(size));
  BIO_free(bio);
  return out;
}

// The CA bundle the call's S3 object holds, checked as ALB checks one (tls::ParseCaBundle):
// InvalidCaCertificatesBundle says which certificate and why. Its certificates come back
// re-encoded as PEM (PemOf).
ApiResult<std::string> CheckedBundle(const CallContext& c) {
  auto bucket =
      RequireString(c.params, "CaCertificatesBundleS3Bucket", "caCertificatesBundleS3Bucket");
  if (!bucket.ok()) return bucket.error();
  auto key = RequireString(c.params, "CaCertificatesBundleS3Key", "caCertificatesBundleS3Key");
  if (!key.ok()) return key.error();
  if (c.s3_objects == nullptr || c.s3_objects->empty()) {
    return SenderError("CaCertificatesBundleNotFound",
                       "The specified ca certificate bundle does not exist.");
  }
  const ApiResult<std::string>& object = c.s3_objects->front();
  if (!object.ok()) return object.error();
  return CaBundleAsPem(object.value());
}

ApiResult<OperationOutput> CreateTrustStore(const CallContext& c) {
  auto name = RequireString(c.params, "Name", "name");
  if (!name.ok()) return name.error();
  if (std::string why = config::internal::CheckResourceName(name.value()); !why.empty()) {
    return Validation(name.value(), "name",
                      "Member must satisfy regular expression pattern: "
                      "^([a-zA-Z0-9]+-)*[a-zA-Z0-9]+$");
  }
  auto tags = DecodeTags(c.params);
  if (!tags.ok()) return tags.error();
  auto bundle = CheckedBundle(c);
  if (!bundle.ok()) return bundle.error();
  const std::vector<config::TrustStoreDefinition>& stores = c.config.trust_stores;
  auto same =
      std::find_if(stores.begin(), stores.end(),
                   [&](const config::TrustStoreDefinition& s) { return s.name == name.value(); });
  if (same != stores.end()) {
    if (same->ca_bundle_pem == bundle.value())
      return TrustStoreResult(c.config, *same, std::nullopt);
    return SenderError("DuplicateTrustStoreName",
                       "A trust store with the specified name already exists.");
  }
  if (stores.size() >= kMaxTrustStores) {
    return SenderError("TooManyTrustStores",
                       "You've reached the limit on the number of trust "
                       "stores for your AWS account (" +
                           std::to_string(kMaxTrustStores) + ").");
  }
  config::Config next = c.config;
  config::TrustStoreDefinition def;
  def.name = name.value();
  def.path = "TrustStores[" + std::to_string(next.trust_stores.size()) + "]";
  def.ca_bundle_pem = std::move(bundle.value());
  def.tags = std::move(tags.value());
  next.trust_stores.push_back(std::move(def));
  const config::TrustStoreDefinition& added = next.trust_stores.back();
  auto out = TrustStoreResult(next, added, std::nullopt);
  out.value().next = std::move(next);
  return out;
}

// A new CA bundle for the store; its revocation files stay (each must still be signed by one
// of its CAs, which applying the change checks).
ApiResult<OperationOutput> ModifyTrustStore(const CallContext& c) {
  auto arn = RequireString(c.params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTrustStore(c.config, arn.value());
  if (!i.ok()) return i.error();
  auto bundle = CheckedBundle(c);
  if (!bundle.ok()) return bundle.error();
  config::Config next = c.config;
  config::TrustStoreDefinition& s = next.trust_stores[i.value()];
  s.ca_bundle_pem = std::move(bundle.value());
  s.ca_bundle_file.clear();
  auto out = TrustStoreResult(next, s, std::nullopt);
  out.value().next = std::move(next);
  return out;
}

// The listeners whose mutual TLS verifies against the store named `name`.
std::vector<std::string> AssociatedListeners(const config::Config& config,
                                             const std::string& name) {
  std::vector<std::string> arns;
  for (const config::LoadBalancer& lb : config.load_balancers) {
    for (const config::Listener& l : lb.listeners) {
      if (l.mutual_authentication.mode == config::MutualTlsMode::kVerify &&
          l.mutual_authentication.trust_store == name) {
        arns.push_back(
            config::ListenerArn(config.account, lb.name, config::ListenerId(lb.name, l), lb.type));
      }
    }
  }
  return arns;
}

// Deleting an unknown store is TrustStoreNotFound (AWS's answer), one a listener verifies
// against is TrustStoreInUse.
ApiResult<OperationOutput> DeleteTrustStore(const CallContext& c) {
  auto arn = RequireString(c.params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTrustStore(c.config, arn.value());
  if (!i.ok()) return i.error();
  const std::string& name = c.config.trust_stores[i.value()].name;
  if (!AssociatedListeners(c.config, name).empty()) {
    return SenderError("TrustStoreInUse",
                       "Trust store '" + arn.value() + "' is in use by one or more listeners.");
  }
  config::Config next = c.config;
  next.trust_stores.erase(next.trust_stores.begin() + static_cast<std::ptrdiff_t>(i.value()));
  return OperationOutput{"", std::move(next), {.outside_rules = true}};
}

ApiResult<OperationOutput> DescribeTrustStoreAssociations(const CallContext& c) {
  auto arn = RequireString(c.params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTrustStore(c.config, arn.value());
  if (!i.ok()) return i.error();
  const std::vector<std::string> arns =
      AssociatedListeners(c.config, c.config.trust_stores[i.value()].name);
  auto page = PageOf(c.params, arns.size());
  if (!page.ok()) return page.error();
  XmlWriter w;
  w.Open("TrustStoreAssociations");
  for (size_t k = page.value().begin; k < page.value().end; ++k) {
    w.Open("member").Leaf("ResourceArn", arns[k]).Close("member");
  }
  w.Close("TrustStoreAssociations");
  NextMarker(page.value(), arns.size(), &w);
  return OperationOutput{std::move(w.str()), std::nullopt};
}

ApiResult<OperationOutput> DescribeTrustStores(const CallContext& c) {
  auto picked = PickTrustStores(c);
  if (!picked.ok()) return picked.error();
  auto page = PageOf(c.params, picked.value().size());
  if (!page.ok()) return page.error();
  XmlWriter w;
  w.Open("TrustStores");
  for (size_t k = page.value().begin; k < page.value().end; ++k) {
    WriteTrustStore(c.config, c.config.trust_stores[picked.value()[k]], &w);
  }
  w.Close("TrustStores");
  NextMarker(page.value(), picked.value().size(), &w);
  return OperationOutput{std::move(w.str()), std::nullopt};
}

// Sluice attaches no resource policy to anything (no RAM sharing): every ARN has none.
ApiResult<OperationOutput> GetResourcePolicy(const CallContext& c) {
  auto arn = RequireString(c.params, "ResourceArn", "resourceArn");
  if (!arn.ok()) return arn.error();
  return SenderError("ResourceNotFound", "The specified resource does not exist.");
}

}  // namespace

ApiResult<std::string> CaBundleAsPem(std::string_view text) {
  auto cas = tls::ParseCaBundle(text);
  if (auto* why = std::get_if<std::string>(&cas)) {
    return SenderError("InvalidCaCertificatesBundle",
                       "The CA certificates bundle is invalid: " + *why);
  }
  std::string pem = PemOf(std::get<std::vector<tls::X509Ptr>>(cas));
  if (pem.empty()) return ReceiverError("InternalFailure", "OpenSSL cannot write the bundle");
  return pem;
}

// AWS's InvalidConfigurationRequest for a mutual-authentication setting the listener cannot
// take.
ApiError MutualTlsRefused(const std::string& why) {
  return SenderError("InvalidConfigurationRequest", why);
}

ApiResult<std::optional<config::MutualAuthentication>> DecodeMutualAuthentication(
    const CallContext& c, const config::Listener& l) {
  if (!c.params.HasAny("MutualAuthentication"))
    return std::optional<config::MutualAuthentication>();
  const QueryParams m = c.params.Struct("MutualAuthentication");
  config::MutualAuthentication out;
  const std::string* mode = m.Get("Mode");
  if (mode == nullptr) {
    // Not "off": a misspelt key must not switch a listener's mutual TLS off.
    return Validation("", "mutualAuthentication.mode", "Member must not be null", true);
  }
  const std::string& mode_name = *mode;
  if (mode_name == "verify") {
    out.mode = config::MutualTlsMode::kVerify;
  } else if (mode_name == "passthrough") {
    out.mode = config::MutualTlsMode::kPassthrough;
  } else if (mode_name != "off") {
    return Validation(mode_name, "mutualAuthentication.mode",
                      "Member must satisfy enum value set: [off, passthrough, verify]");
  }
  if (out.mode != config::MutualTlsMode::kOff && l.protocol != "HTTPS" && l.protocol != "TLS") {
    return MutualTlsRefused("Mutual authentication is only for HTTPS and TLS listeners, not " +
                            l.protocol);
  }
  if (out.mode == config::MutualTlsMode::kPassthrough && l.protocol == "TLS") {
    // Passthrough forwards the certificate in an HTTP header; a TLS listener has none.
    return MutualTlsRefused("A TLS listener's mutual authentication mode is off or verify");
  }
  auto ignore = ReadBoolean(m, "IgnoreClientCertificateExpiry",
                            "mutualAuthentication.ignoreClientCertificateExpiry");
  if (!ignore.ok()) return ignore.error();
  const std::string* advertise = m.Get("AdvertiseTrustStoreCaNames");
  if (advertise != nullptr && *advertise != "on" && *advertise != "off") {
    return Validation(*advertise, "mutualAuthentication.advertiseTrustStoreCaNames",
                      "Member must satisfy enum value set: [on, off]");
  }
  const std::string* store = m.Get("TrustStoreArn");
  if (out.mode != config::MutualTlsMode::kVerify) {
    if (store != nullptr || ignore.value().has_value() || advertise != nullptr) {
      return MutualTlsRefused("Only mode verify takes a trust store and its options");
    }
    return std::optional<config::MutualAuthentication>(std::move(out));
  }
  if (store == nullptr) return MutualTlsRefused("Mode verify needs a TrustStoreArn");
  // Its ARN, or its name (as the config file and CertificateArn take them).
  auto it = std::find_if(c.config.trust_stores.begin(), c.config.trust_stores.end(),
                         [&](const config::TrustStoreDefinition& s) {
                           return config::TrustStoreArn(c.config.account, s.name) == *store ||
                                  s.name == *store;
                         });
  if (it == c.config.trust_stores.end()) return TrustStoreNotFound();
  out.trust_store = it->name;
  out.ignore_client_certificate_expiry = ignore.value().value_or(false);
  out.advertise_trust_store_ca_names = advertise != nullptr && *advertise == "on";
  return std::optional<config::MutualAuthentication>(std::move(out));
}

bool ReadsS3Object(std::string_view action) {
  return action == "CreateTrustStore" || action == "ModifyTrustStore" ||
         action == "AddTrustStoreRevocations";
}

std::vector<ApiResult<std::string>> PrefetchS3Objects(std::string_view action,
                                                      const QueryParams& params,
                                                      const config::Config& where,
                                                      const ServiceHooks& hooks) {
  std::vector<ApiResult<std::string>> out;
  auto fetch = [&](const QueryParams& p, std::string_view bucket_name, std::string_view key_name,
                   std::string_view version_name, const char* not_found) {
    const std::string* bucket = p.Get(bucket_name);
    const std::string* key = p.Get(key_name);
    if (bucket == nullptr || key == nullptr) return false;
    if (!hooks.fetch_s3_object) {
      out.emplace_back(SenderError(not_found, "This Sluice reads no S3 objects"));
    } else {
      const std::string* version = p.Get(version_name);
      out.push_back(hooks.fetch_s3_object(where, *bucket, *key, version ? *version : ""));
    }
    return true;
  };
  if (action == "CreateTrustStore" || action == "ModifyTrustStore") {
    fetch(params, "CaCertificatesBundleS3Bucket", "CaCertificatesBundleS3Key",
          "CaCertificatesBundleS3ObjectVersion", "CaCertificatesBundleNotFound");
  } else if (action == "AddTrustStoreRevocations") {
    auto items = params.StructList("RevocationContents");
    if (!items || items->size() > kMaxRevocationLists) return out;
    for (const QueryParams& item : *items) {
      if (!fetch(item, "S3Bucket", "S3Key", "S3ObjectVersion", "RevocationContentNotFound")) break;
    }
  }
  return out;
}

Handler FindTrustStoreHandler(std::string_view action, bool* mutating) {
  if (action == "CreateTrustStore") return *mutating = true, CreateTrustStore;
  if (action == "ModifyTrustStore") return *mutating = true, ModifyTrustStore;
  if (action == "DeleteTrustStore") return *mutating = true, DeleteTrustStore;
  if (action == "DescribeTrustStoreAssociations") {
    return *mutating = false, DescribeTrustStoreAssociations;
  }
  if (action == "DescribeTrustStores") return *mutating = false, DescribeTrustStores;
  if (action == "GetResourcePolicy") return *mutating = false, GetResourcePolicy;
  return nullptr;
}

}  // namespace sluice::api
