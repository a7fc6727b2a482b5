// A listener's certificate list (reference §7.3): DescribeListenerCertificates,
// AddListenerCertificates, RemoveListenerCertificates, and the Certificates of
// CreateListener and ModifyListener. In the model a listener's `certificates` hold the
// default certificate first and then the certificate list (SNI candidates).
#include <algorithm>

#include "api/decode.h"
#include "api/service.h"
#include "api/xml.h"
#include "config/arn.h"

namespace sluice::api {
namespace {

// Certificates per load balancer, not counting the listeners' defaults (AWS's quota).
constexpr size_t kMaxListCertificatesPerLoadBalancer = 25;

bool TakesCertificates(const config::Listener& l) {
  return l.protocol == "HTTPS" || l.protocol == "TLS";
}

void WriteCertificate(const config::Config& config, const std::string& name, bool is_default,
                      XmlWriter* w) {
  w->Open("member")
      .Leaf("CertificateArn", config::CertificateArn(config.account, name))
      .Leaf("IsDefault", is_default ? "true" : "false")
      .Close("member");
}

ApiResult<OperationOutput> DescribeListenerCertificates(const CallContext& c) {
  auto arn = RequireString(c.params, "ListenerArn", "listenerArn");
  if (!arn.ok()) return arn.error();
  auto ref = FindListener(c.config, arn.value());
  if (!ref.ok()) return ref.error();
  const config::Listener& l =
      c.config.load_balancers[ref.value().lb].listeners[ref.value().listener];
  const size_t total = TakesCertificates(l) ? l.certificates.size() : 0;
  auto page = PageOf(c.params, total);
  if (!page.ok()) return page.error();
  XmlWriter w;
  w.Open("Certificates");
  for (size_t i = page.value().begin; i < page.value().end; ++i) {
    WriteCertificate(c.config, l.certificates[i].name, i == 0, &w);
  }
  w.Close("Certificates");
  NextMarker(page.value(), total, &w);
  return OperationOutput{std::move(w.str()), std::nullopt};
}

// The listener `ListenerArn` names and the certificates of `Certificates`, checked for a
// call that changes the list.
struct ListChange {
  ListenerRef ref;
  std::vector<config::ListenerCertificate> certificates;
};

ApiResult<ListChange> DecodeListChange(const CallContext& c) {
  auto arn = RequireString(c.params, "ListenerArn", "listenerArn");
  if (!arn.ok()) return arn.error();
  auto ref = FindListener(c.config, arn.value());
  if (!ref.ok()) return ref.error();
  auto certs = DecodeCertificates(c);
  if (!certs.ok()) return certs.error();
  if (certs.value().empty()) return Validation("", "certificates", "Member must not be null", true);
  const config::Listener& l =
      c.config.load_balancers[ref.value().lb].listeners[ref.value().listener];
  if (!TakesCertificates(l)) {
    return SenderError(
        "InvalidConfigurationRequest",
        "Certificates can only be used with HTTPS and TLS listeners, not " + l.protocol);
  }
  return ListChange{ref.value(), std::move(certs.value())};
}

size_t ListCertificates(const config::LoadBalancer& lb) {
  size_t n = 0;
  for (const config::Listener& l : lb.listeners) {
    if (TakesCertificates(l) && !l.certificates.empty()) n += l.certificates.size() - 1;
  }
  return n;
}

// Adds to the list; one already there (or the default) is not added twice.
ApiResult<OperationOutput> AddListenerCertificates(const CallContext& c) {
  auto change = DecodeListChange(c);
  if (!change.ok()) return change.error();
  config::Config next = c.config;
  FreezeIds(&next);
  config::LoadBalancer& lb = next.load_balancers[change.value().ref.lb];
  config::Listener& l = lb.listeners[change.value().ref.listener];
  XmlWriter w;
  w.Open("Certificates");
  for (config::ListenerCertificate& cert : change.value().certificates) {
    const bool present = std::any_of(
        l.certificates.begin(), l.certificates.end(),
        [&](const config::ListenerCertificate& have) { return have.name == cert.name; });
    WriteCertificate(next, cert.name, false, &w);
    if (!present) l.certificates.push_back(std::move(cert));
  }
  w.Close("Certificates");
  if (ListCertificates(lb) > kMaxListCertificatesPerLoadBalancer) {
    return SenderError("TooManyCertificates",
                       "You've reached the limit on the number of certificates per load "
                       "balancer (" +
                           std::to_string(kMaxListCertificatesPerLoadBalancer) + ")");
  }
  return OperationOutput{std::move(w.str()), std::move(next), {.outside_rules = true}};
}

// Removes from the list; the default certificate stays (ModifyListener replaces it), and a
// certificate that is not in the list is no error.
ApiResult<OperationOutput> RemoveListenerCertificates(const CallContext& c) {
  auto change = DecodeListChange(c);
  if (!change.ok()) return change.error();
  config::Config next = c.config;
  FreezeIds(&next);
  config::Listener& l =
      next.load_balancers[change.value().ref.lb].listeners[change.value().ref.listener];
  for (const config::ListenerCertificate& cert : change.value().certificates) {
    if (!l.certificates.empty() && l.certificates.front().name == cert.name) {
      return SenderError("OperationNotPermitted",
                         "The default certificate of a listener cannot be removed; use "
                         "ModifyListener to replace it");
    }
    std::erase_if(l.certificates,
                  [&](const config::ListenerCertificate& have) { return have.name == cert.name; });
  }
  return OperationOutput{"", std::move(next), {.outside_rules = true}};
}

}  // namespace

ApiResult<std::vector<config::ListenerCertificate>> DecodeCertificates(const CallContext& c) {
  std::vector<config::ListenerCertificate> out;
  for (const QueryParams& p :
       c.params.StructList("Certificates").value_or(std::vector<QueryParams>{})) {
    const std::string* arn = p.Get("CertificateArn");
    if (arn == nullptr) continue;
    size_t at = arn->rfind("certificate/");
    std::string cert = at == std::string::npos ? *arn : arn->substr(at + 12);
    bool known =
        std::any_of(c.config.certificates.begin(), c.config.certificates.end(),
                    [&](const config::CertificateDefinition& d) { return d.name == cert; });
    if (!known) {
      return SenderError("CertificateNotFound", "Certificate '" + *arn + "' not found");
    }
    config::ListenerCertificate lc;
    lc.name = cert;
    out.push_back(std::move(lc));
  }
  return out;
}

Handler FindCertificateHandler(std::string_view action, bool* mutating) {
  if (action == "DescribeListenerCertificates") {
    return *mutating = false, DescribeListenerCertificates;
  }
  if (action == "AddListenerCertificates") return *mutating = true, AddListenerCertificates;
  if (action == "RemoveListenerCertificates") return *mutating = true, RemoveListenerCertificates;
  return nullptr;
}

}  // namespace sluice::api
