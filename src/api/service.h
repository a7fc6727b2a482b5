// The elbv2 operations (reference §9.6): dispatches an authenticated call by Action to its
// handler, which reads the current model and, for a mutation, returns the next one. The
// Service does not persist or publish: `Hooks::apply` does (app/), and only once it
// succeeded is the call answered with success.
//
// Thread: Call() runs on the API's connection threads, one at a time (mu_); SetConfig() runs
// on the control thread after a reload and never waits for mu_ (a call may hold it while it
// waits for the control thread): the new model is staged and adopted by the next call.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/error.h"
#include "api/query.h"
#include "config/model.h"
#include "config/scoped_check.h"
#include "health/checker.h"

namespace sluice::api {

class XmlWriter;

inline constexpr std::string_view kApiVersion = "2015-12-01";

// What a mutation changed, so that applying it can skip the checks that cannot fail.
struct ChangeScope {
  // >= 0: only the Targets of this target group (index in the model) changed, and the
  // handler checked them as the loader would (config::internal::CheckTargets); the rest of
  // the model is the one last applied, already checked. -1: anything may have changed.
  int targets_of_group = -1;
  // Set: only the rules of one listener changed (added, changed, deleted, reprioritized, or
  // its default actions); applying checks them with config::CheckListenerRulesChange instead
  // of loading the whole model again.
  std::optional<config::ListenerRulesChange> rules_of_listener = {};
  // >= 0: only the settings of this target group (index in the model) changed, or it is new;
  // its targets did not change. Applying checks it with config::CheckTargetGroupChange.
  int settings_of_group = -1;
  // Set: a listener was added (load balancer, listener: indices in the model) and nothing
  // else changed. Applying checks it with config::CheckListenerAdded.
  std::optional<std::pair<size_t, size_t>> added_listener = {};
  // True: only what no rule, group or target check reads changed (a listener's attributes
  // or certificates, a load balancer's attributes but HTTP/2 cleartext), a load balancer
  // was added (without listeners), or a listener or load balancer was deleted with its
  // rules. Applying checks it with config::CheckOutsideRules.
  bool outside_rules = false;
  // True: the handler made every check the loader makes of what changed (tags), or the
  // change cannot fail one (an unreferenced group deleted); nothing else changed.
  bool checked_by_handler = false;
};

// The largest CA bundle CreateTrustStore reads (25 certificates of at most 16 KiB fit).
// And the largest revocation list AddTrustStoreRevocations reads (AWS takes 50 MB; here a
// list is held in the config document).
inline constexpr size_t kMaxCaBundleObjectBytes = 1 << 20;
// Revocation lists per trust store, files and held ones (reference §10).
inline constexpr size_t kMaxRevocationLists = 30;
// GetTrustStoreCaCertificatesBundle and GetTrustStoreRevocationContent answer a presigned URL
// (`Location`) of this path on the API endpoint itself (a presigned S3 URL on AWS), valid for
// ten minutes as AWS's; a GET of it answers the PEM (Service::Content).
inline constexpr std::string_view kTrustStoreContentPath = "/trust-store-content";
inline constexpr int64_t kTrustStoreContentUrlSeconds = 600;

struct ServiceHooks {
  std::function<std::vector<health::TargetGroupHealth>()> health;
  // Validates, persists and publishes `next`; in force when it returns true.
  std::function<ApiResult<bool>(const config::Config& next, const std::string& reason,
                                const ChangeScope& scope)>
      apply;
  // Reads an object from the S3-compatible store `where.s3` names (with `where.account`'s
  // region when it names none): the object, or the API error to answer (a missing object:
  // CaCertificatesBundleNotFound). Blocks, within a bound; called without the call lock.
  std::function<ApiResult<std::string>(const config::Config& where, const std::string& bucket,
                                       const std::string& key, const std::string& version)>
      fetch_s3_object;
  // The URL `origin` + `path_and_query`, presigned (query-string SigV4, `region`, valid for
  // kTrustStoreContentUrlSeconds) with the key of `caller`; without keys (unsigned loopback
  // mode) the URL as it is. "" when the caller's secret cannot be read. Called under the
  // call lock: it must not call back into the Service.
  std::function<std::string(std::string_view caller, std::string_view region,
                            std::string_view origin, std::string_view path_and_query)>
      presign;
  // Non-empty: the config file Sluice serves; mutating calls are refused.
  std::string file_managed;
  std::string created_time = "2026-01-01T00:00:00.000Z";  // CreatedTime of load balancers
  // Names the documents attribute changes are checked as; relative paths (log directories)
  // resolve against its directory.
  std::string document_label = "api";
};

// What a handler returns: the XML inside <OpResult>, and for a mutation the next model.
struct OperationOutput {
  std::string result_xml;
  std::optional<config::Config> next;
  ChangeScope scope = {};
};

struct CallContext {
  const QueryParams& params;
  const config::Config& config;
  const ServiceHooks& hooks;
  // CreateTrustStore and ModifyTrustStore: the CA bundle; AddTrustStoreRevocations: each
  // RevocationContents member's object, in order. Read from S3 before the call took the lock
  // (null or short when the call named no bucket and key).
  const std::vector<ApiResult<std::string>>* s3_objects = nullptr;
  std::string_view caller = {};  // the caller's access key id ("anonymous" unsigned)
  // "http://host:port" (or https) as the caller reached the API: URLs the answer gives.
  std::string_view origin = {};
};

using Handler = ApiResult<OperationOutput> (*)(const CallContext&);

class Service {
 public:
  Service(config::Config initial, ServiceHooks hooks);

  struct Answer {
    int status = 200;
    std::string body;        // XML
    std::string error_code;  // empty on success
    std::string error_message;
    std::string content_type = "text/xml";
  };
  // Answers a call (already authenticated): Action and Version are in `params`. `origin`:
  // "http://host:port" as the caller reached the API (for the URLs some answers give).
  Answer Call(const QueryParams& params, std::string_view request_id, std::string_view caller,
              std::string_view origin = {});
  // A GET of kTrustStoreContentPath (already authenticated and authorized as the Action it
  // names): the PEM the Action's `Location` pointed to, or the error as XML.
  Answer Content(const QueryParams& params, std::string_view request_id);
  // The model after a reload of the file (file-managed mode).
  void SetConfig(config::Config config);
  config::Config CurrentConfig() const;
  // The value of tag `key` on the resource `arn` (for policy conditions); nullopt if none.
  std::optional<std::string> ResourceTag(std::string_view arn, std::string_view key);

 private:
  void AdoptStaged();  // with mu_ held

  mutable std::mutex mu_;
  config::Config config_;
  std::mutex staged_mu_;  // guards staged_; never held while waiting
  std::optional<config::Config> staged_;
  ServiceHooks hooks_;
};

// CreateTrustStore, ModifyTrustStore and AddTrustStoreRevocations read their objects from S3
// before taking the call lock (a slow store then delays no other call): ReadsS3Object says
// which actions do; PrefetchS3Objects gives the objects the call names, in order (empty when
// it names none, or too many: the handler answers that) (ops_trust_stores.cc).
bool ReadsS3Object(std::string_view action);
std::vector<ApiResult<std::string>> PrefetchS3Objects(std::string_view action,
                                                      const QueryParams& params,
                                                      const config::Config& where,
                                                      const ServiceHooks& hooks);

// The revoked entries of the revocation lists the config holds for `s` (not its files)
// (ops_revocations.cc).
size_t HeldRevokedEntries(const config::TrustStoreDefinition& s);

// The certificates of a CA bundle checked as ALB checks one (tls::ParseCaBundle), re-encoded as
// PEM with nothing else (no text between blocks, no other kind of block):
// InvalidCaCertificatesBundle ("The CA certificates bundle is invalid: <why>") if it is not one
// (ops_trust_stores.cc).
ApiResult<std::string> CaBundleAsPem(std::string_view text);

// RevocationId `text` (a member at `path`) of store `s`: its index in s.revocations;
// ValidationError when it is not a number, RevocationIdNotFound when the store has no such
// list (ops_revocations.cc).
ApiResult<size_t> FindRevocation(const config::TrustStoreDefinition& s, const std::string& text,
                                 std::string_view path);
// The text of the store's CA bundle: the one the config holds, or its file read now
// (InternalFailure when it cannot be) (ops_revocations.cc).
ApiResult<std::string> StoreBundleText(const config::TrustStoreDefinition& s);

// What a GET of kTrustStoreContentPath answers for `params` (Action
// GetTrustStoreCaCertificatesBundle with TrustStoreArn, or GetTrustStoreRevocationContent with
// TrustStoreArn and RevocationId): the PEM, or the error (ops_trust_store_content.cc).
ApiResult<std::string> TrustStoreContent(const config::Config& config, const QueryParams& params);

// The handlers, by operation name (ops_*.cc); null for an unknown one.
Handler FindHandler(std::string_view action, bool* mutating);
// Every operation of the elbv2 API this build answers, for docs and tests.
std::vector<std::string> ImplementedOperations();

// ---- shared by the handlers -------------------------------------------------------------

struct ListenerRef {
  size_t lb = 0;
  size_t listener = 0;
};
struct RuleRef {
  size_t lb = 0;
  size_t listener = 0;
  int rule = -1;  // -1: the default rule
};
ApiResult<size_t> FindLoadBalancer(const config::Config& config, std::string_view arn);
ApiResult<size_t> FindTargetGroup(const config::Config& config, std::string_view arn);
// The trust store `arn` names (its ARN exactly), or TrustStoreNotFound.
ApiResult<size_t> FindTrustStore(const config::Config& config, std::string_view arn);
ApiResult<ListenerRef> FindListener(const config::Config& config, std::string_view arn);
ApiResult<RuleRef> FindRule(const config::Config& config, std::string_view arn);
// The tags of the resource `arn` names in `config`, or the kind's NotFound error.
ApiResult<std::vector<config::Tag>*> TagsOf(config::Config& config, std::string_view arn);
// The certificates of Certificates.member.N.CertificateArn (each in the config's store, an
// ARN "...:certificate/<name>" or the name), in order (ops_certificates.cc).
ApiResult<std::vector<config::ListenerCertificate>> DecodeCertificates(const CallContext& c);
// UnsupportedProtocol unless `protocol` is one a listener of `lb` takes: HTTP, HTTPS on an
// application load balancer; TCP, TLS, UDP, TCP_UDP on a network one (ops_create.cc).
std::optional<ApiError> UnsupportedListenerProtocol(const config::LoadBalancer& lb,
                                                    const std::string& protocol);
// AlpnPolicy.member.1 of CreateListener and ModifyListener for a listener of `protocol`:
// nullopt when absent; only TLS listeners take one (ValidationError), one of ALPN's policy
// names (ALPNPolicyNotFound) (ops_create.cc).
ApiResult<std::optional<std::string>> DecodeAlpnPolicy(const QueryParams& params,
                                                       const std::string& protocol);
// MutualAuthentication.{Mode,TrustStoreArn,IgnoreClientCertificateExpiry,
// AdvertiseTrustStoreCaNames} of CreateListener and ModifyListener for listener `l` (with its
// new protocol): nullopt when absent; Mode is required; verify needs a trust store the config
// has (its ARN or name; TrustStoreNotFound), and only verify takes one and its options
// (InvalidConfigurationRequest, as the loader) (ops_trust_stores.cc).
ApiResult<std::optional<config::MutualAuthentication>> DecodeMutualAuthentication(
    const CallContext& c, const config::Listener& l);
// Writes every listener's and rule's id into the model, so that the ARNs stay what they are
// when a port or a priority changes.
void FreezeIds(config::Config* config);

// A page of `total` items: [begin, end) from Marker (an index) and PageSize (1..400).
struct Page {
  size_t begin = 0;
  size_t end = 0;
};
ApiResult<Page> PageOf(const QueryParams& p, size_t total);
// <NextMarker> when items follow the page.
void NextMarker(const Page& page, size_t total, XmlWriter* w);

}  // namespace sluice::api
