// The resource model: load balancers, listeners, rules, target groups and targets, with the
// elbv2 API's field names in comments. This is what the YAML loader produces after validation,
// and what the snapshot compiler consumes. Plain data; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::config {

// 1-based position in the source file; 0 when the value was defaulted.
struct Location {
  int line = 0;
  int column = 0;
};

// A resource's tag (AddTags; YAML `Tags: [{Key, Value}]`): key 1..128, value 0..256, at most
// 50 per resource, no `aws:` prefix.
struct Tag {
  std::string key;
  std::string value;
};

// ---- Rules -------------------------------------------------------------------------------

enum class ConditionField {
  kHostHeader,         // "host-header"
  kPathPattern,        // "path-pattern"
  kHttpHeader,         // "http-header"
  kHttpRequestMethod,  // "http-request-method"
  kQueryString,        // "query-string"
  kSourceIp,           // "source-ip"
};

struct QueryStringKeyValue {
  std::optional<std::string> key;  // absent: any key
  std::string value;
};

// RuleCondition. Exactly the fields that belong to `field` are filled.
struct Condition {
  ConditionField field = ConditionField::kPathPattern;
  std::string http_header_name;                   // http-header: HttpHeaderConfig.HttpHeaderName
  std::vector<std::string> values;                // host/path/header/method values; source-ip CIDRs
  std::vector<std::string> regex_values;          // host/path/header RegexValues (RE2 syntax)
  std::vector<QueryStringKeyValue> query_values;  // query-string pairs
  Location location;
};

enum class ActionType { kForward, kRedirect, kFixedResponse };

struct TargetGroupTuple {
  std::string target_group;  // TargetGroupName (the file names groups; ARNs come with the API)
  int weight = 1;            // 0..999
  int index = -1;            // position in Config::target_groups, resolved when compiled
};

struct ForwardConfig {
  std::vector<TargetGroupTuple> target_groups;  // 1..5
  bool stickiness_enabled = false;              // TargetGroupStickinessConfig.Enabled
  int stickiness_duration_seconds = 0;          // 1..604800 when enabled
};

struct RedirectConfig {
  std::string protocol = "#{protocol}";  // HTTP | HTTPS | #{protocol}
  std::string port = "#{port}";          // 1..65535 | #{port}
  std::string host = "#{host}";
  std::string path = "/#{path}";
  std::string query = "#{query}";
  int status_code = 301;  // from HTTP_301 / HTTP_302
};

struct FixedResponseConfig {
  int status_code = 200;     // 2xx, 4xx or 5xx
  std::string content_type;  // empty = no Content-Type header
  std::string message_body;  // 0..1024 characters
};

struct Action {
  ActionType type = ActionType::kForward;
  int order = 0;  // 1..50000 when given; 0 = not given
  ForwardConfig forward;
  RedirectConfig redirect;
  FixedResponseConfig fixed_response;
  Location location;
};

enum class TransformType {
  kHostHeaderRewrite,  // "host-header-rewrite": HostHeaderRewriteConfig
  kUrlRewrite,         // "url-rewrite": UrlRewriteConfig
};

// RewriteConfig: an RE2 regex and its replacement ("$1".."$9" name capture groups, "$0" the
// whole match, "$$" is a literal '$'; see config/rewrite_template.h).
struct RewriteConfig {
  std::string regex;    // 1..1024 characters
  std::string replace;  // 0..1024 characters
};

// RuleTransform. The config's Rewrites list holds exactly one RewriteConfig.
struct Transform {
  TransformType type = TransformType::kUrlRewrite;
  RewriteConfig rewrite;
  Location location;
};

struct Rule {
  // The rule ARN's last part (16 hex digits; YAML `Id`). Empty: derived from the load
  // balancer, listener and priority (config/arn.h); the API writes it out once it exists.
  std::string id;
  std::vector<Tag> tags;
  int priority = 0;  // 1..50000, unique per listener
  std::vector<Condition> conditions;
  std::vector<Action> actions;        // validated: exactly one terminal action, last by order
  std::vector<Transform> transforms;  // at most one of each type
  Location location;
};

// ---- Listeners and load balancers ------------------------------------------------------------

enum class DesyncMitigationMode { kMonitor, kDefensive, kStrictest };
enum class XffProcessingMode { kAppend, kPreserve, kRemove };

// Load balancer attributes (elbv2 keys in comments). Only the keys Sluice implements are
// accepted; the rest are rejected by the loader with a message naming the key.
struct LoadBalancerAttributes {
  int idle_timeout_seconds = 60;         // idle_timeout.timeout_seconds 1..4000
  int client_keep_alive_seconds = 3600;  // client_keep_alive.seconds 60..604800
  DesyncMitigationMode desync_mitigation_mode =
      DesyncMitigationMode::kDefensive;     // routing.http.desync_mitigation_mode
  bool drop_invalid_header_fields = false;  // routing.http.drop_invalid_header_fields.enabled
  bool preserve_host_header = false;        // routing.http.preserve_host_header.enabled
  bool xff_client_port = false;             // routing.http.xff_client_port.enabled
  XffProcessingMode xff_header_processing_mode =
      XffProcessingMode::kAppend;    // routing.http.xff_header_processing.mode
  bool deletion_protection = false;  // deletion_protection.enabled (accepted, no effect)
  bool http2_enabled = true;         // routing.http2.enabled: ALPN h2 on HTTPS listeners
  // sluice.routing.http2.cleartext.enabled (beyond ALB, off by default): HTTP listeners also
  // take HTTP/2 by prior knowledge (a connection that starts with the client preface).
  bool http2_cleartext = false;
  // sluice.routing.http2.websocket.enabled (beyond ALB, off by default): HTTP/2 connections
  // advertise SETTINGS_ENABLE_CONNECT_PROTOCOL and take WebSocket over HTTP/2 (RFC 8441).
  bool http2_websocket = false;
  bool tls_version_and_cipher_headers =
      false;  // routing.http.x_amzn_tls_version_and_cipher_suite.enabled
  // Access, connection and health-check logs (reference §3.1, §5): ALB writes to S3; Sluice writes
  // the same gzip files under a local directory (`sluice.<kind>.directory`, relative to the config
  // file), laid out as the S3 keys would be. The bucket is kept for a later upload.
  struct LogSettings {
    bool enabled = false;   // <kind>.s3.enabled
    std::string bucket;     // <kind>.s3.bucket
    std::string prefix;     // <kind>.s3.prefix (never contains "AWSLogs")
    std::string directory;  // sluice.<kind>.directory (resolved)
  };
  LogSettings access_logs;        // access_logs.*
  LogSettings connection_logs;    // connection_logs.*
  LogSettings health_check_logs;  // health_check_logs.* (one line per health check)
};

// A listener's mention of a certificate of the store (Certificates[i].CertificateArn).
struct ListenerCertificate {
  std::string name;  // the store's Name (an ARN "...:certificate/<name>" is reduced to it)
  Location location;
  std::string path;  // "LoadBalancers[0].Listeners[1].Certificates[0]", for messages
};

// Mutual TLS on an HTTPS listener (reference §7.4): MutualAuthentication.
enum class MutualTlsMode { kOff, kPassthrough, kVerify };
// The mode as the config and the API spell it: off, passthrough, verify.
inline const char* ToString(MutualTlsMode m) {
  switch (m) {
    case MutualTlsMode::kOff:
      return "off";
    case MutualTlsMode::kPassthrough:
      return "passthrough";
    case MutualTlsMode::kVerify:
      return "verify";
  }
  return "?";
}
struct MutualAuthentication {
  MutualTlsMode mode = MutualTlsMode::kOff;
  std::string trust_store;  // verify: the TrustStores Name (an ARN ".../truststore/<name>/..."
                            // is reduced to it)
  bool ignore_client_certificate_expiry = false;  // IgnoreClientCertificateExpiry
  bool advertise_trust_store_ca_names = false;    // AdvertiseTrustStoreCaNames on|off
  Location location;
};

// Listener attributes (§3.3): the names of the headers mutual TLS and the TLS-facts load
// balancer attribute add.
struct ListenerAttributes {
  // TCP listeners (network load balancers): tcp.idle_timeout.seconds, 60..6000 (§8.5).
  int tcp_idle_timeout_seconds = 350;
  // sluice.max_connections (Sluice's own, every listener but UDP): open client connections
  // the listener holds at once, over all workers; beyond it a new connection is reset at
  // accept and counted (RejectedConnectionCount / RejectedFlowCount). 0: half the process's
  // descriptor limit, so that a flood on one listener leaves the others room.
  int max_connections = 0;
  std::string mtls_clientcert = "X-Amzn-Mtls-Clientcert";
  std::string mtls_serial_number = "X-Amzn-Mtls-Clientcert-Serial-Number";
  std::string mtls_issuer = "X-Amzn-Mtls-Clientcert-Issuer";
  std::string mtls_subject = "X-Amzn-Mtls-Clientcert-Subject";
  std::string mtls_validity = "X-Amzn-Mtls-Clientcert-Validity";
  std::string mtls_leaf = "X-Amzn-Mtls-Clientcert-Leaf";
  std::string tls_version = "X-Amzn-Tls-Version";
  std::string tls_cipher_suite = "X-Amzn-Tls-Cipher-Suite";
};

struct Listener {
  // The listener ARN's last part (16 hex digits; YAML `Id`). Empty: derived from the load
  // balancer and port (config/arn.h).
  std::string id;
  std::vector<Tag> tags;
  std::string protocol = "HTTP";         // HTTP | HTTPS (application); TCP | TLS (network)
  std::string bind_address = "0.0.0.0";  // Sluice extension: address to listen on
  int port = 0;                          // 1..65535
  // HTTPS and TLS: SslPolicy (default ELBSecurityPolicy-2016-08, the API's) and Certificates,
  // the first being the default certificate, the others offered by SNI (at most 25).
  std::string ssl_policy;
  std::vector<ListenerCertificate> certificates;
  MutualAuthentication mutual_authentication;  // HTTPS and TLS
  // TLS listeners (network): AlpnPolicy, one of config/alpn_policies.h ("None" by default);
  // empty for every other protocol.
  std::string alpn_policy;
  ListenerAttributes attributes;
  std::vector<Action> default_actions;
  std::vector<Rule> rules;  // kept sorted by priority after validation
  Location location;
};

struct LoadBalancer {
  std::string name;  // 1..32 chars, alphanumerics and hyphens, not starting/ending with '-'
  // "application" (HTTP/HTTPS listeners, rules) or "network" (TCP listeners forwarding bytes
  // to TCP target groups, reference §8).
  std::string type = "application";
  // Sluice extension (YAML `BindAddress`; the API's SubnetMappings[].PrivateIPv4Address):
  // the address its listeners bind when they name none. Empty: 0.0.0.0.
  std::string bind_address;
  std::vector<Tag> tags;
  LoadBalancerAttributes attributes;
  std::vector<Listener> listeners;
  Location location;
};

// ---- Target groups -----------------------------------------------------------------------------

enum class LoadBalancingAlgorithm { kRoundRobin, kLeastOutstandingRequests, kWeightedRandom };

// A network group's HTTP/HTTPS health checks succeed on 200-399 unless told (reference §8.7).
inline constexpr char kNetworkHealthCheckMatcher[] = "200-399";

struct HealthCheck {
  bool enabled = true;                // HealthCheckEnabled
  std::string protocol = "HTTP";      // HealthCheckProtocol: HTTP | HTTPS | TCP; when not
                                      // given, the group's Protocol (HTTP or HTTPS)
  std::string port = "traffic-port";  // HealthCheckPort
  std::string path = "/";             // HealthCheckPath
  int interval_seconds = 30;          // HealthCheckIntervalSeconds 5..300
  int timeout_seconds = 5;            // HealthCheckTimeoutSeconds 2..120
  int healthy_threshold = 5;          // HealthyThresholdCount 2..10
  int unhealthy_threshold = 2;        // UnhealthyThresholdCount 2..10
  std::string matcher = "200";        // Matcher.HttpCode: "200", "200-299", "200,202"; network
                                      // groups: kNetworkHealthCheckMatcher
  // Matcher.GrpcCode ("12", "0-5", "0,1"; codes 0..99): GRPC groups only, whose checks are
  // judged by the grpc-status of the answer (HttpCode is not used by them).
  std::string grpc_matcher = "12";

  bool operator==(const HealthCheck&) const = default;
};

// HealthCheckPath of GRPC target groups when none is given (reference §2.3).
inline constexpr char kGrpcHealthCheckPath[] = "/AWS.ALB/healthcheck";

struct TargetGroupAttributes {
  int deregistration_delay_seconds = 300;  // deregistration_delay.timeout_seconds 0..3600
  LoadBalancingAlgorithm algorithm = LoadBalancingAlgorithm::kRoundRobin;  // ...algorithm.type
  bool anomaly_mitigation = false;  // load_balancing.algorithm.anomaly_mitigation (on/off);
                                    // only with kWeightedRandom
  int slow_start_seconds = 0;       // slow_start.duration_seconds 0 | 30..900
  bool stickiness_enabled = false;  // stickiness.enabled
  std::string stickiness_type = "lb_cookie";  // stickiness.type
  int stickiness_lb_cookie_duration_seconds = 86400;
  std::string stickiness_app_cookie_name;
  int stickiness_app_cookie_duration_seconds = 86400;
  // proxy_protocol_v2.enabled (TCP groups, reference §8.4): each connection to a target starts
  // with a PROXY protocol v2 header carrying the client's and the listener's addresses.
  bool proxy_protocol_v2 = false;
  // Network load balancer groups (TCP, TLS, UDP, TCP_UDP; reference §8.6):
  // deregistration_delay.connection_termination.enabled resets a deregistered target's flows
  // when its delay ends (default false; true for UDP and TCP_UDP groups, as AWS creates them).
  bool deregistration_termination = false;
  // target_health_state.unhealthy.connection_termination.enabled (default true): flows to a
  // target that fails its health checks are reset. False: they go on, and with
  // target_health_state.unhealthy.draining_interval_seconds (0..360000, only then) are reset
  // that long after the target turned unhealthy (0: they go on until they end).
  bool unhealthy_termination = true;
  int unhealthy_draining_interval_seconds = 0;
  // preserve_client_ip.enabled (network groups, reference §8.3): a target's connections and
  // datagrams come from the client's address and port (a transparent socket, which needs
  // CAP_NET_ADMIN and the policy routing of docs/nlb.md) instead of Sluice's. Off by default
  // for every protocol (AWS: on for UDP, TCP_UDP and instance targets; docs/alb-compatibility.md).
  bool preserve_client_ip = false;
  // Sluice's own attributes for TLS to the targets of HTTPS groups and HTTPS health checks
  // (ALB sends no SNI and verifies nothing; these are opt-in).
  std::string tls_server_name;     // sluice.tls.server_name: SNI sent, and the name verified
  bool tls_verify = false;         // sluice.tls.verify.enabled
  std::string tls_verify_ca_file;  // sluice.tls.verify.ca_file (resolved; empty: system store)
  Location tls_verify_ca_file_location;
  std::string tls_verify_ca_file_path;  // "TargetGroups[0].Attributes.sluice.tls.verify.ca_file"
};

struct Target {
  std::string id;  // IP address (target type "ip")
  int port = 0;    // 1..65535; defaults to the group's Port
  Location location;
};

struct TargetGroup {
  std::string name;  // 1..32 chars, like load balancer names
  std::vector<Tag> tags;
  std::string protocol = "HTTP";  // HTTP | HTTPS (TLS to the targets) | TCP (network LBs)
  std::string protocol_version = "HTTP1";
  int port = 0;  // default port for targets, 1..65535
  std::string target_type = "ip";
  HealthCheck health_check;
  TargetGroupAttributes attributes;
  std::vector<Target> targets;
  Location location;
};

// A certificate chain and its private key read from PEM files: the self-hosted stand-in for
// an ACM certificate. Listeners name it. The files are read and checked (key matches, dates,
// key type) by the TLS module when the config is compiled.
struct CertificateDefinition {
  std::string name;              // 1..128 of [A-Za-z0-9._-]
  std::string certificate_file;  // PEM: the leaf first, then intermediates; path resolved
                                 // against the config file's directory
  std::string private_key_file;  // PEM private key (RSA or ECDSA), resolved the same way
  Location location;             // of the entry
  Location certificate_file_location;
  Location private_key_file_location;
  std::string path;  // "Certificates[0]"
};

// A certificate revocation list held in the config (AddTrustStoreRevocations read it from S3).
inline constexpr int64_t kMaxRevocationId = int64_t{1} << 53;  // exact in a JSON number
inline constexpr size_t kMaxHeldCrlBytes = 4u << 20;           // a Crl's text
struct TrustStoreRevocation {
  int64_t id = 0;       // RevocationId: 1.., unique within the store
  std::string crl_pem;  // Crl: one or more PEM CRLs
  Location location;    // of the Crl field
};

// A trust store for mutual TLS: CA certificates and certificate revocation lists read from
// files (S3 objects on AWS), or the CA bundle held in the config itself (what the API's
// CreateTrustStore fetched from an S3-compatible store). Checked when the config
// is compiled (tls/trust_store.h).
struct TrustStoreDefinition {
  std::string name;                  // 1..32 of [A-Za-z0-9-], not starting or ending with '-'
  std::string ca_bundle_file;        // CaCertificatesBundleFile: PEM, CA certificates only
  std::string ca_bundle_pem;         // CaCertificatesBundle: the PEM itself (set: no file)
  Location ca_bundle_file_location;  // of whichever of the two is given
  std::vector<std::string> revocation_files;  // RevocationFiles: CRLs, PEM or DER
  std::vector<Location> revocation_file_locations;
  std::vector<TrustStoreRevocation> revocations;  // Revocations: CRLs held in the config
  int64_t next_revocation_id = 0;  // NextRevocationId: ids below it were given (0: none yet)
  std::vector<Tag> tags;
  std::string path;  // "TrustStores[0]"
  Location location;
};

// Sluice's own process settings (not part of the elbv2 model).
struct AdminSettings {
  std::string address = "127.0.0.1";
  int port = 0;  // 0 = admin endpoint off
  // Seconds per data point of the metric history (GET /cloudwatch): a divisor of 60.
  // Taken at start; a reload that changes it applies at the next restart.
  int metrics_resolution_seconds = 10;
  // TokenFile: a file whose first line is the token every admin request must carry (a
  // `Bearer` Authorization, the `sluice_admin` cookie, or `?token=` once). Required when the
  // address is not loopback; read at start (a reload that changes it applies at restart).
  std::string token_file;
  Location token_file_location;
};

// The elbv2 API endpoint (Sluice's own; api/): off unless a port is given.
struct ApiSettings {
  std::string address = "127.0.0.1";
  int port = 0;  // 0 = API off
  // Certificate: a Certificates entry; the API speaks HTTPS with it ("" = plain HTTP). Taken
  // at start (a reload that changes it applies at restart).
  std::string certificate;
};

// The S3-compatible store that completed log files are uploaded to (Sluice's section `S3`),
// each to the bucket its *_logs.s3.bucket attribute names. Off when `endpoint` is empty.
// Read at start and on every reload (the credentials file too).
struct S3Settings {
  std::string endpoint;          // http://host[:port] (path-style requests: /bucket/key)
  std::string region;            // the signing region; "" = Account.Region
  std::string credentials_file;  // an AWS shared credentials file
  Location credentials_file_location;
  std::string profile = "default";
  bool keep_local_files = false;  // keep each file in the directory after its upload
};

// The account and region Sluice names its resources with (ARNs, log file names; reference
// §9.5). Not an AWS account: any 12 digits.
struct AccountSettings {
  std::string id = "000000000000";   // Account.Id: 12 digits
  std::string region = "us-east-1";  // Account.Region: e.g. eu-west-3
};

// A CloudWatch-style metric alarm on Sluice's own metric history (Sluice's section `Alarms`;
// the fields are PutMetricAlarm's). Actions are webhook URLs instead of SNS topic ARNs.
struct AlarmDimension {
  std::string name;   // LoadBalancer or TargetGroup
  std::string value;  // a load balancer or target group name, or the full dimension value
};

struct AlarmDefinition {
  std::string name;  // AlarmName: unique, 1..255 characters
  std::string description;
  std::string metric_namespace = "AWS/ApplicationELB";
  std::string metric;  // MetricName
  std::vector<AlarmDimension> dimensions;
  std::string statistic;           // Statistic (Sum, Average, ...), or
  std::string extended_statistic;  // ExtendedStatistic (p99): exactly one of the two is set
  int period = 60;                 // seconds; a multiple of Admin.MetricsResolutionSeconds
  int evaluation_periods = 1;
  int datapoints_to_alarm = 0;  // 0: EvaluationPeriods
  std::string threshold = "0";  // kept as written (a decimal number), for exact round trips
  std::string comparison;       // GreaterThanThreshold, GreaterThanOrEqualToThreshold, ...
  std::string treat_missing_data = "missing";  // missing, notBreaching, breaching, ignore
  bool actions_enabled = true;
  std::vector<std::string> alarm_actions;  // http:// URLs POSTed on a change to ALARM
  std::vector<std::string> ok_actions;
  std::vector<std::string> insufficient_data_actions;
  std::string path;  // "Alarms[0]"
  Location location;
};

struct Config {
  std::string source_file;  // path the config was read from, for messages
  AccountSettings account;
  std::vector<LoadBalancer> load_balancers;
  std::vector<TargetGroup> target_groups;
  std::vector<CertificateDefinition> certificates;
  std::vector<TrustStoreDefinition> trust_stores;
  AdminSettings admin;
  ApiSettings api;
  S3Settings s3;
  std::vector<AlarmDefinition> alarms;
};

}  // namespace sluice::config
