// Internal to the config loader: the per-resource walkers that turn YAML into the model,
// applying the field rules of validate.h as they go. Cross-resource checks (target group
// references, listener address clashes) need the whole document, so the walkers record what
// they saw in a LoadContext and loader.cc checks it at the end.
#pragma once

#include <string>
#include <vector>

#include "base/ip_address.h"
#include "config/model.h"
#include "config/yaml_reader.h"

namespace sluice::config::internal {

// A file path field: as written when absolute, else joined to the config file's directory;
// false (error added) when empty or not a string. `where` gets the field's position.
bool ReadFilePath(Reader& r, const Field& f, std::string* out, Location* where);

// A forward action's mention of a target group by name.
struct TargetGroupRef {
  std::string name;
  YAML::Mark mark;
  std::string path;
  int load_balancer = -1;         // index into Config::load_balancers
  std::string listener_protocol;  // of the listener whose action it is
};

// A network load balancer's protocol, for listeners and target groups alike (reference
// §8.1): TCP, TLS, UDP or TCP_UDP.
inline bool IsNetworkProtocol(std::string_view p) {
  return p == "TCP" || p == "TLS" || p == "UDP" || p == "TCP_UDP";
}

// Something that listens on an address and port (a listener or the admin endpoint).
struct Endpoint {
  IpAddress ip;
  std::string address;  // as written
  int port = 0;
  YAML::Mark mark;    // of the Port value
  std::string path;   // of the Port value
  std::string owner;  // "LoadBalancers[0].Listeners[1]" or "Admin"
  // The transports it binds: kTcpEndpoint, kUdpEndpoint or both (TCP_UDP listeners).
  uint8_t transports = 1;
};
inline constexpr uint8_t kTcpEndpoint = 1;
inline constexpr uint8_t kUdpEndpoint = 2;

struct LoadContext {
  explicit LoadContext(Reader& r) : reader(r) {}
  Reader& reader;
  int current_load_balancer = -1;
  std::string current_bind_address;          // the load balancer's BindAddress, "" when none
  std::string current_type = "application";  // the load balancer's Type
  std::string current_listener_protocol;     // of the listener being parsed
  std::vector<TargetGroupRef> refs;
  std::vector<Endpoint> endpoints;
  // Names of the certificate store (parsed before the load balancers that name them).
  std::vector<std::string> certificate_names;
  std::vector<std::string> trust_store_names;
};

// Top-level sections. Each appends what parsed (possibly partially, when there were errors;
// the loader discards the result then).
void ParseLoadBalancers(LoadContext& ctx, const Field& field, std::vector<LoadBalancer>* out);
void ParseTargetGroups(LoadContext& ctx, const Field& field, std::vector<TargetGroup>* out);
void ParseAdmin(LoadContext& ctx, const Field& field, AdminSettings* out);
// `certificates`: the config's, which Api.Certificate must name.
void ParseApi(LoadContext& ctx, const Field& field,
              const std::vector<CertificateDefinition>& certificates, ApiSettings* out);
// Alarms (parse_alarm.cc): PutMetricAlarm's fields, checked; periods against the resolution.
void ParseAlarms(LoadContext& ctx, const Field& field, int resolution_seconds,
                 std::vector<AlarmDefinition>* out);
// An optional `Id`: the last part of a listener or rule ARN, 16 lower-case hex digits.
void ReadArnId(Reader& r, const Field& field, std::string* out);
// An optional `Tags` list of {Key, Value}.
void ParseTags(Reader& r, const Field& field, std::vector<Tag>* out);
// Account (Id: 12 digits, Region: like "us-east-1"): what ARNs and log file names carry.
void ParseAccount(LoadContext& ctx, const Field& field, AccountSettings* out);
// The S3 section (parse_s3.cc): the endpoint, and the credentials file read and checked now.
void ParseS3(LoadContext& ctx, const Field& field, S3Settings* out);
bool IsRegionName(std::string_view s);
// A region name field (IsRegionName) into *out when present; an error naming it otherwise.
void ReadRegion(Reader& r, const Field& f, std::string* out);
// The certificate store (parse_certificate.cc): names unique, both files given; paths are
// resolved against the directory of the config file.
void ParseCertificates(LoadContext& ctx, const Field& field,
                       std::vector<CertificateDefinition>* out);
// A listener's Protocol with its TLS fields (SslPolicy, Certificates): HTTPS needs one
// certificate at least and at most 26; an HTTP listener takes neither field.
void ParseListenerProtocol(LoadContext& ctx, const MapReader& m, Listener* out);
// Trust stores (parse_mutual_tls.cc): names unique, a CA bundle file each, CRL files.
void ParseTrustStores(LoadContext& ctx, const Field& field, std::vector<TrustStoreDefinition>* out);
// A listener's MutualAuthentication (HTTPS only) and Attributes (the header names).
void ParseMutualAuthentication(LoadContext& ctx, const MapReader& m, Listener* out);

// Listener pieces (parse_rule.cc, parse_action.cc, parse_transform.cc).
void ParseRules(LoadContext& ctx, const Field& field, std::vector<Rule>* out);
// A rule's Transforms: at most one of each type, each with exactly one rewrite.
void ParseTransforms(LoadContext& ctx, const Field& field, std::vector<Transform>* out);
// An action list (Rules[i].Actions or DefaultActions): at least one action, exactly one
// terminal action which is last by Order; sorted by Order on return.
void ParseActions(LoadContext& ctx, const Field& field, std::vector<Action>* out);

}  // namespace sluice::config::internal
