// A trust store's certificate revocation lists through the API (reference §7.4, §9.6):
// AddTrustStoreRevocations reads CRLs from the S3 section's store (prefetched with the call's
// other objects, ops_trust_stores.cc) and keeps them in the config
// (TrustStores[].Revocations), DescribeTrustStoreRevocations lists them,
// RemoveTrustStoreRevocations drops them. Lists from the config file's RevocationFiles are not
// listed (they have no revocation id). GetTrustStoreRevocationContent is in
// ops_trust_store_content.cc.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <charconv>

#include "api/decode.h"
#include "api/service.h"
#include "api/xml.h"
#include "config/arn.h"
#include "config/file.h"
#include "tls/trust_store.h"

namespace sluice::api {
namespace {

// The revoked entries of every PEM CRL in `pem` (which the loader has checked).
size_t RevokedEntries(const std::string& pem) {
  size_t n = 0;
  if (pem.size() > config::kMaxHeldCrlBytes) return 0;  // the loader refuses it
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return 0;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr)) {
    const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
    if (revoked != nullptr) n += static_cast<size_t>(sk_X509_REVOKED_num(revoked));
    X509_CRL_free(crl);
  }
  ERR_clear_error();  // the end of the PEM blocks
  BIO_free(bio);
  return n;
}

// The CRLs as PEM, nothing else: what the config keeps of a revocation list (PEM or DER in).
std::string PemOf(const std::vector<tls::CrlPtr>& crls) {
  std::string out;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return out;
  bool ok = true;
  for (const tls::CrlPtr& crl : crls) ok = ok && PEM_write_bio_X509_CRL(bio, crl.get()) == 1;
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  if (ok && size > 0) out.assign(data, static_cast<size_t>(size));
  BIO_free(bio);
  ERR_clear_error();
  return out;
}

// The store's CA certificates: its held bundle, or its file read now.
ApiResult<std::vector<tls::X509Ptr>> StoreCas(const config::TrustStoreDefinition& s) {
  auto text = StoreBundleText(s);
  if (!text.ok()) return text.error();
  auto cas = tls::ParseCaBundle(text.value());
  if (auto* why = std::get_if<std::string>(&cas)) {
    return ReceiverError("InternalFailure", "The trust store's bundle cannot be read: " + *why);
  }
  return std::move(std::get<std::vector<tls::X509Ptr>>(cas));
}

void WriteRevocation(const std::string& store_arn, const config::TrustStoreRevocation& rev,
                     XmlWriter* w) {
  w->Open("member")
      .Leaf("TrustStoreArn", store_arn)
      .Leaf("RevocationId", std::to_string(rev.id))
      .Leaf("RevocationType", "CRL")
      .Leaf("NumberOfRevokedEntries", std::to_string(RevokedEntries(rev.crl_pem)))
      .Close("member");
}

// One RevocationContents member read and checked: its CRLs as PEM, or the error to answer
// (InvalidRevocationContent: not a CRL, or not signed by a CA of the store).
ApiResult<std::string> CheckedRevocation(const CallContext& c, const QueryParams& item, size_t i,
                                         const std::vector<tls::X509Ptr>& cas, size_t* revoked) {
  const std::string path = "revocationContents.member." + std::to_string(i + 1);
  const std::string* type = item.Get("RevocationType");
  if (type != nullptr && *type != "CRL") {
    return Validation(*type, path + ".revocationType", "Member must satisfy enum value set: [CRL]");
  }
  auto bucket = RequireString(item, "S3Bucket", path + ".s3Bucket");
  if (!bucket.ok()) return bucket.error();
  auto key = RequireString(item, "S3Key", path + ".s3Key");
  if (!key.ok()) return key.error();
  if (c.s3_objects == nullptr || c.s3_objects->size() <= i) {
    return SenderError("RevocationContentNotFound",
                       "The specified revocation file does not exist.");
  }
  const ApiResult<std::string>& object = (*c.s3_objects)[i];
  if (!object.ok()) {
    ApiError e = object.error();  // the fetch hook names bundles; this is a revocation file
    if (e.code == "CaCertificatesBundleNotFound") {
      e.code = "RevocationContentNotFound";
      const size_t why = e.message.find(": ");
      e.message = "The specified revocation file does not exist: " +
                  (why == std::string::npos ? e.message : e.message.substr(why + 2));
    }
    return e;
  }
  auto crls = tls::ParseRevocations(object.value(), cas, revoked);
  if (*revoked > tls::kMaxRevokedEntries) {
    return SenderError("TooManyTrustStoreRevocationEntries",
                       "A trust store holds at most " + std::to_string(tls::kMaxRevokedEntries) +
                           " revoked entries");
  }
  if (auto* why = std::get_if<std::string>(&crls)) {
    return SenderError("InvalidRevocationContent", "The revocation file is invalid: " + *why);
  }
  std::string pem = PemOf(std::get<std::vector<tls::CrlPtr>>(crls));
  if (pem.empty()) return ReceiverError("InternalFailure", "OpenSSL cannot write the list");
  return pem;
}

ApiResult<OperationOutput> AddTrustStoreRevocations(const CallContext& c) {
  auto arn = RequireString(c.params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTrustStore(c.config, arn.value());
  if (!i.ok()) return i.error();
  auto items = c.params.StructList("RevocationContents");
  if (!items || items->empty()) {
    return Validation("", "revocationContents", "Member must not be null", true);
  }
  const config::TrustStoreDefinition& s = c.config.trust_stores[i.value()];
  if (items->size() + s.revocations.size() + s.revocation_files.size() > kMaxRevocationLists) {
    return SenderError(
        "TooManyTrustStoreRevocationEntries",
        "A trust store holds at most " + std::to_string(kMaxRevocationLists) + " revocation lists");
  }
  auto cas = StoreCas(s);
  if (!cas.ok()) return cas.error();
  config::Config next = c.config;
  config::TrustStoreDefinition& changed = next.trust_stores[i.value()];
  // Ids are never given twice, a removed one's included: the store keeps the next one.
  int64_t id = std::max<int64_t>(s.next_revocation_id, 1);
  for (const config::TrustStoreRevocation& rev : s.revocations) id = std::max(id, rev.id + 1);
  if (id + static_cast<int64_t>(items->size()) > config::kMaxRevocationId + 1) {
    return SenderError("TooManyTrustStoreRevocationEntries", "No revocation ids are left");
  }
  size_t revoked = HeldRevokedEntries(s);  // the files' entries are counted when applied
  XmlWriter w;
  w.Open("TrustStoreRevocations");
  for (size_t k = 0; k < items->size(); ++k) {
    auto pem = CheckedRevocation(c, (*items)[k], k, cas.value(), &revoked);
    if (!pem.ok()) return pem.error();
    changed.revocations.push_back(config::TrustStoreRevocation{id++, std::move(pem.value()), {}});
    WriteRevocation(arn.value(), changed.revocations.back(), &w);
  }
  changed.next_revocation_id = id;
  w.Close("TrustStoreRevocations");
  return OperationOutput{std::move(w.str()), std::move(next), {.outside_rules = true}};
}

// RevocationIds.member.N: the indices of those ids in `s.revocations` (each must be there),
// or all of them when the call names none and `all_by_default`.
ApiResult<std::vector<size_t>> PickRevocations(const CallContext& c,
                                               const config::TrustStoreDefinition& s,
                                               bool all_by_default) {
  auto ids = c.params.List("RevocationIds");
  std::vector<size_t> picked;
  if (!ids || ids->empty()) {
    if (!all_by_default) return Validation("", "revocationIds", "Member must not be null", true);
    for (size_t k = 0; k < s.revocations.size(); ++k) picked.push_back(k);
    return picked;
  }
  for (const std::string& text : *ids) {
    auto k = FindRevocation(s, text, "revocationIds");
    if (!k.ok()) return k.error();
    picked.push_back(k.value());
  }
  return picked;
}

ApiResult<OperationOutput> DescribeTrustStoreRevocations(const CallContext& c) {
  auto arn = RequireString(c.params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTrustStore(c.config, arn.value());
  if (!i.ok()) return i.error();
  const config::TrustStoreDefinition& s = c.config.trust_stores[i.value()];
  auto picked = PickRevocations(c, s, true);
  if (!picked.ok()) return picked.error();
  auto page = PageOf(c.params, picked.value().size());
  if (!page.ok()) return page.error();
  XmlWriter w;
  w.Open("TrustStoreRevocations");
  for (size_t k = page.value().begin; k < page.value().end; ++k) {
    WriteRevocation(arn.value(), s.revocations[picked.value()[k]], &w);
  }
  w.Close("TrustStoreRevocations");
  NextMarker(page.value(), picked.value().size(), &w);
  return OperationOutput{std::move(w.str()), std::nullopt};
}

ApiResult<OperationOutput> RemoveTrustStoreRevocations(const CallContext& c) {
  auto arn = RequireString(c.params, "TrustStoreArn", "trustStoreArn");
  if (!arn.ok()) return arn.error();
  auto i = FindTrustStore(c.config, arn.value());
  if (!i.ok()) return i.error();
  auto picked = PickRevocations(c, c.config.trust_stores[i.value()], false);
  if (!picked.ok()) return picked.error();
  config::Config next = c.config;
  std::vector<config::TrustStoreRevocation>& revs = next.trust_stores[i.value()].revocations;
  std::vector<bool> drop(revs.size(), false);
  for (size_t k : picked.value()) drop[k] = true;
  size_t kept = 0;
  for (size_t k = 0; k < revs.size(); ++k) {
    if (!drop[k]) revs[kept++] = std::move(revs[k]);
  }
  revs.resize(kept);
  return OperationOutput{"", std::move(next), {.outside_rules = true}};
}

}  // namespace

ApiResult<size_t> FindRevocation(const config::TrustStoreDefinition& s, const std::string& text,
                                 std::string_view path) {
  int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Validation(text, path, "Member must be a number");
  }
  auto it = std::find_if(s.revocations.begin(), s.revocations.end(),
                         [&](const config::TrustStoreRevocation& r) { return r.id == id; });
  if (it == s.revocations.end()) {
    return SenderError("RevocationIdNotFound",
                       "The specified revocation ID does not exist: " + text);
  }
  return static_cast<size_t>(it - s.revocations.begin());
}

ApiResult<std::string> StoreBundleText(const config::TrustStoreDefinition& s) {
  if (!s.ca_bundle_pem.empty()) return s.ca_bundle_pem;
  std::string text;
  if (std::string why = config::ReadBoundedFile(s.ca_bundle_file, kMaxCaBundleObjectBytes, &text);
      !why.empty()) {
    return ReceiverError("InternalFailure", "The trust store's bundle cannot be read: " + why);
  }
  return text;
}

size_t HeldRevokedEntries(const config::TrustStoreDefinition& s) {
  size_t n = 0;
  for (const config::TrustStoreRevocation& rev : s.revocations) n += RevokedEntries(rev.crl_pem);
  return n;
}

Handler FindRevocationHandler(std::string_view action, bool* mutating) {
  if (action == "AddTrustStoreRevocations") return *mutating = true, AddTrustStoreRevocations;
  if (action == "RemoveTrustStoreRevocations") return *mutating = true, RemoveTrustStoreRevocations;
  if (action == "DescribeTrustStoreRevocations") {
    return *mutating = false, DescribeTrustStoreRevocations;
  }
  return nullptr;
}

}  // namespace sluice::api
