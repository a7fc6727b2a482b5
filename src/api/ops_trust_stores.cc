// Trust stores and resource policies (reference §9.6): DescribeTrustStores lists the config's
// TrustStores (CreateTrustStore's stand-in: CA bundles read from files, not S3), and
// GetResourcePolicy answers as for an account that shares nothing through RAM. The other
// trust-store operations are not answered yet (docs/api.md).
#include <algorithm>

#include "api/decode.h"
#include "api/service.h"
#include "api/xml.h"
#include "config/arn.h"

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

// Name, TrustStoreArn and Status; the stores are loaded (ACTIVE) whenever the config is in
// force. NumberOfCaCertificates and TotalRevokedEntries are left out: the API does not read
// the files.
ApiResult<OperationOutput> DescribeTrustStores(const CallContext& c) {
  auto picked = PickTrustStores(c);
  if (!picked.ok()) return picked.error();
  auto page = PageOf(c.params, picked.value().size());
  if (!page.ok()) return page.error();
  XmlWriter w;
  w.Open("TrustStores");
  for (size_t k = page.value().begin; k < page.value().end; ++k) {
    const config::TrustStoreDefinition& s = c.config.trust_stores[picked.value()[k]];
    w.Open("member")
        .Leaf("Name", s.name)
        .Leaf("TrustStoreArn", config::TrustStoreArn(c.config.account, s.name))
        .Leaf("Status", "ACTIVE")
        .Close("member");
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

Handler FindTrustStoreHandler(std::string_view action, bool* mutating) {
  if (action == "DescribeTrustStores") return *mutating = false, DescribeTrustStores;
  if (action == "GetResourcePolicy") return *mutating = false, GetResourcePolicy;
  return nullptr;
}

}  // namespace sluice::api
