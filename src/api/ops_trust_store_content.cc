// A trust store's content through the API (reference §7.4, §9.6): on AWS,
// GetTrustStoreCaCertificatesBundle and GetTrustStoreRevocationContent answer a presigned S3
// URL of the bundle or the revocation list, valid for ten minutes. Sluice holds that content
// itself (the config's TrustStores), so the URL is the API endpoint's own
// kTrustStoreContentPath, presigned with the caller's key: a GET of it is authenticated and
// authorized as the call that gave it, and answers the PEM as the config holds it then
// (Service::Content, TrustStoreContent). DeleteSharedTrustStoreAssociation answers as AWS for
// an account that shares nothing: every association is the account's own.
//
// Thread: the handlers run under the Service's call lock (service.h); TrustStoreContent too,
// and may read the store's bundle file (at most kMaxCaBundleObjectBytes).
#include "api/decode.h"
#include "api/service.h"
#include "api/sigv4.h"
#include "api/xml.h"
#include "config/arn.h"

namespace sluice::api {
namespace {

// The revocation list the call's RevocationId names in store `s` (its index), or the error.
ApiResult<size_t> RevocationOf(const config::TrustStoreDefinition& s, const QueryParams& params) {
  auto text = RequireString(params, "RevocationId", "revocationId");
  if (!text.ok()) return text.error();
  return FindRevocation(s, text.value(), "revocationId");
}

// The answer's <Location>: the content path with `query`, presigned for the caller.
ApiResult<OperationOutput> LocationAnswer(const CallContext& c, const std::string& query) {
  const std::string path = std::string(kTrustStoreContentPath) + "?" + query;
  std::string origin(c.origin.empty() ? std::string_view("http://localhost") : c.origin);
  std::string url;
  if (c.hooks.presign) url = c.hooks.presign(c.caller, c.config.account.region, origin, path);
  if (url.empty()) {
    return ReceiverError("InternalFailure", "The content's URL cannot be signed");
  }
  XmlWriter w;
  w.Leaf("Location", url);
  return OperationOutput{std::move(w.str()), std::nullopt};
}

std::string ContentQuery(std::string_view action, std::string_view store_arn) {
  return "Action=" + std::string(action) + "&TrustStoreArn=" + SigV4UriEncode(store_arn, false) +
         "&Version=" + std::string(kApiVersion);
}

ApiResult<OperationOutput> GetTrustStoreCaCertificatesBundle(const CallContext& c) {
  auto arn = RequireString(c.params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTrustStore(c.config, arn.value());
  if (!i.ok()) return i.error();
  return LocationAnswer(c, ContentQuery("GetTrustStoreCaCertificatesBundle", arn.value()));
}

ApiResult<OperationOutput> GetTrustStoreRevocationContent(const CallContext& c) {
  auto arn = RequireString(c.params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTrustStore(c.config, arn.value());
  if (!i.ok()) return i.error();
  const config::TrustStoreDefinition& s = c.config.trust_stores[i.value()];
  auto rev = RevocationOf(s, c.params);
  if (!rev.ok()) return rev.error();
  return LocationAnswer(c, ContentQuery("GetTrustStoreRevocationContent", arn.value()) +
                               "&RevocationId=" + std::to_string(s.revocations[rev.value()].id));
}

// Nothing is shared through RAM here, so every association a trust store has is the
// account's own: DeleteAssociationSameAccount for a load balancer of this account (AWS's
// answer for one in the owner's account), AssociationNotFound for anything else.
ApiResult<OperationOutput> DeleteSharedTrustStoreAssociation(const CallContext& c) {
  auto arn = RequireString(c.params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto resource = RequireString(c.params, "ResourceArn", "resourceArn");
  if (!resource.ok()) return resource.error();
  auto i = FindTrustStore(c.config, arn.value());
  if (!i.ok()) return i.error();
  if (FindLoadBalancer(c.config, resource.value()).ok()) {
    return SenderError("DeleteAssociationSameAccount",
                       "The specified association can't be within the same account.");
  }
  return SenderError("AssociationNotFound", "The specified association does not exist.");
}

}  // namespace

ApiResult<std::string> TrustStoreContent(const config::Config& config, const QueryParams& params) {
  const std::string* action = params.Get("Action");
  const std::string* version = params.Get("Version");
  const bool bundle = action != nullptr && *action == "GetTrustStoreCaCertificatesBundle";
  // Authorized as the elbv2 action it names (and only as that: another Version would be
  // another service's action to a policy).
  if ((!bundle && (action == nullptr || *action != "GetTrustStoreRevocationContent")) ||
      version == nullptr || *version != kApiVersion) {
    return SenderError("InvalidAction", "This URL gives trust store content only", 404);
  }
  auto arn = RequireString(params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTrustStore(config, arn.value());
  if (!i.ok()) return i.error();
  const config::TrustStoreDefinition& s = config.trust_stores[i.value()];
  if (!bundle) {
    auto rev = RevocationOf(s, params);
    if (!rev.ok()) return rev.error();
    return s.revocations[rev.value()].crl_pem;
  }
  if (!s.ca_bundle_pem.empty()) return s.ca_bundle_pem;  // held as certificates only
  // A file's certificates only: whatever else it holds (a key, notes) is not for the API.
  auto text = StoreBundleText(s);
  if (!text.ok()) return text.error();
  ApiResult<std::string> pem = CaBundleAsPem(text.value());
  if (!pem.ok()) {
    return ReceiverError("InternalFailure",
                         "The trust store's bundle cannot be read: " + pem.error().message);
  }
  return pem;
}

Handler FindTrustStoreContentHandler(std::string_view action, bool* mutating) {
  if (action == "GetTrustStoreCaCertificatesBundle") {
    return *mutating = false, GetTrustStoreCaCertificatesBundle;
  }
  if (action == "GetTrustStoreRevocationContent") {
    return *mutating = false, GetTrustStoreRevocationContent;
  }
  if (action == "DeleteSharedTrustStoreAssociation") {
    return *mutating = true, DeleteSharedTrustStoreAssociation;
  }
  return nullptr;
}

}  // namespace sluice::api
