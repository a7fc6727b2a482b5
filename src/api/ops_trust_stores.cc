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

Handler FindTrustStoreHandler(std::string_view action, bool* mutating) {
  if (action == "DescribeTrustStores") return *mutating = false, DescribeTrustStores;
  if (action == "GetResourcePolicy") return *mutating = false, GetResourcePolicy;
  return nullptr;
}

}  // namespace sluice::api
