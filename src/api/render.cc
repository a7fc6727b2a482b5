#include "api/render.h"

#include "base/clock.h"
#include "base/ip_address.h"
#include "config/arn.h"
#include "config/condition_fields.h"
#include "config/forwards.h"

namespace sluice::api {
namespace {

void WriteStrings(std::string_view tag, const std::vector<std::string>& values, XmlWriter* w) {
  w->Open(tag);
  for (const std::string& v : values) w->Leaf("member", v);
  w->Close(tag);
}

void WriteCondition(const config::Condition& c, XmlWriter* w) {
  w->Open("member").Leaf("Field", config::InfoOf(c.field).name);
  const char* tag = config::InfoOf(c.field).config_key;
  w->Open(tag);
  if (c.field == config::ConditionField::kHttpHeader) {
    w->Leaf("HttpHeaderName", c.http_header_name);
  }
  if (c.field == config::ConditionField::kQueryString) {
    w->Open("Values");
    for (const config::QueryStringKeyValue& kv : c.query_values) {
      w->Open("member");
      if (kv.key) w->Leaf("Key", *kv.key);
      w->Leaf("Value", kv.value).Close("member");
    }
    w->Close("Values");
  } else {
    WriteStrings("Values", c.values, w);
  }
  if (!c.regex_values.empty()) WriteStrings("RegexValues", c.regex_values, w);
  w->Close(tag).Close("member");
}

void WriteForward(const config::Config& config, const config::ForwardConfig& f, XmlWriter* w) {
  if (f.target_groups.size() == 1) {
    w->Leaf("TargetGroupArn",
            config::TargetGroupArn(config.account, f.target_groups[0].target_group));
  }
  w->Open("ForwardConfig").Open("TargetGroups");
  for (const config::TargetGroupTuple& t : f.target_groups) {
    w->Open("member")
        .Leaf("TargetGroupArn", config::TargetGroupArn(config.account, t.target_group))
        .Leaf("Weight", t.weight)
        .Close("member");
  }
  w->Close("TargetGroups")
      .Open("TargetGroupStickinessConfig")
      .Bool("Enabled", f.stickiness_enabled);
  if (f.stickiness_enabled) w->Leaf("DurationSeconds", f.stickiness_duration_seconds);
  w->Close("TargetGroupStickinessConfig").Close("ForwardConfig");
}

void WriteAction(const config::Config& config, const config::Action& a, XmlWriter* w) {
  w->Open("member");
  switch (a.type) {
    case config::ActionType::kForward:
      w->Leaf("Type", "forward");
      WriteForward(config, a.forward, w);
      break;
    case config::ActionType::kRedirect:
      w->Leaf("Type", "redirect")
          .Open("RedirectConfig")
          .Leaf("Protocol", a.redirect.protocol)
          .Leaf("Port", a.redirect.port)
          .Leaf("Host", a.redirect.host)
          .Leaf("Path", a.redirect.path)
          .Leaf("Query", a.redirect.query)
          .Leaf("StatusCode", "HTTP_" + std::to_string(a.redirect.status_code))
          .Close("RedirectConfig");
      break;
    case config::ActionType::kFixedResponse:
      w->Leaf("Type", "fixed-response").Open("FixedResponseConfig");
      w->Leaf("MessageBody", a.fixed_response.message_body)
          .Leaf("StatusCode", std::to_string(a.fixed_response.status_code));
      if (!a.fixed_response.content_type.empty()) {
        w->Leaf("ContentType", a.fixed_response.content_type);
      }
      w->Close("FixedResponseConfig");
      break;
  }
  if (a.order > 0) w->Leaf("Order", a.order);
  w->Close("member");
}

void WriteTransforms(const std::vector<config::Transform>& transforms, XmlWriter* w) {
  w->Open("Transforms");
  for (const config::Transform& t : transforms) {
    bool host = t.type == config::TransformType::kHostHeaderRewrite;
    const char* tag = host ? "HostHeaderRewriteConfig" : "UrlRewriteConfig";
    w->Open("member").Leaf("Type", host ? "host-header-rewrite" : "url-rewrite").Open(tag);
    w->Open("Rewrites")
        .Open("member")
        .Leaf("Regex", t.rewrite.regex)
        .Leaf("Replace", t.rewrite.replace)
        .Close("member")
        .Close("Rewrites");
    w->Close(tag).Close("member");
  }
  w->Close("Transforms");
}

}  // namespace

std::string LoadBalancerDnsName(const config::AccountSettings& account, std::string_view name) {
  std::string id = config::ResourceId("loadbalancer", name);
  unsigned long long digits = std::stoull(id.substr(0, 8), nullptr, 16) % 1000000000ull;
  return std::string(name) + "-" + std::to_string(digits) + "." + account.region + ".elb.localhost";
}

void WriteActions(const config::Config& config, std::string_view tag,
                  const std::vector<config::Action>& actions, XmlWriter* w) {
  w->Open(tag);
  for (const config::Action& a : actions) WriteAction(config, a, w);
  w->Close(tag);
}

std::vector<std::string> LoadBalancersOf(const config::Config& config, std::string_view group) {
  std::vector<std::string> out;
  const config::LoadBalancer* last = nullptr;  // forwards come load balancer by load balancer
  config::ForEachForward(config, [&](const config::LoadBalancer& lb, const config::Listener&,
                                     const config::TargetGroupTuple& t) {
    if (t.target_group != group || &lb == last) return;
    last = &lb;
    out.push_back(config::LoadBalancerArn(config.account, lb.name, lb.type));
  });
  return out;
}

std::string IpAddressTypeOf(const config::LoadBalancer& lb) {
  auto v6 = [](const std::string& address) {
    std::optional<IpAddress> ip = IpAddress::Parse(address);
    return ip && !ip->is_v4;
  };
  if (v6(lb.bind_address)) return "dualstack";
  for (const config::Listener& l : lb.listeners) {
    if (v6(l.bind_address)) return "dualstack";
  }
  return "ipv4";
}

void WriteLoadBalancer(const config::Config& config, const config::LoadBalancer& lb,
                       std::string_view created_time, XmlWriter* w) {
  w->Open("member")
      .Leaf("LoadBalancerArn", config::LoadBalancerArn(config.account, lb.name, lb.type))
      .Leaf("DNSName", LoadBalancerDnsName(config.account, lb.name))
      .Leaf("CanonicalHostedZoneId", "ZSLUICE0LOCAL")
      .Leaf("CreatedTime", created_time)
      .Leaf("LoadBalancerName", lb.name)
      .Leaf("Scheme", "internal")
      .Leaf("VpcId", "vpc-sluice")
      .Open("State")
      .Leaf("Code", "active")
      .Close("State")
      .Leaf("Type", lb.type)
      .Empty("AvailabilityZones")
      .Empty("SecurityGroups")
      .Leaf("IpAddressType", IpAddressTypeOf(lb))
      .Close("member");
}

// A TLS listener's MutualAuthentication: its mode, and in verify mode the trust store (always
// associated: the config cannot name a store it lacks) and its options.
void WriteMutualAuthentication(const config::Config& config, const config::MutualAuthentication& m,
                               XmlWriter* w) {
  w->Open("MutualAuthentication").Leaf("Mode", config::ToString(m.mode));
  if (m.mode == config::MutualTlsMode::kVerify) {
    w->Leaf("TrustStoreArn", config::TrustStoreArn(config.account, m.trust_store))
        .Bool("IgnoreClientCertificateExpiry", m.ignore_client_certificate_expiry)
        .Leaf("TrustStoreAssociationStatus", "active")
        .Leaf("AdvertiseTrustStoreCaNames", m.advertise_trust_store_ca_names ? "on" : "off");
  }
  w->Close("MutualAuthentication");
}

void WriteListener(const config::Config& config, const config::LoadBalancer& lb,
                   const config::Listener& listener, XmlWriter* w) {
  std::string id = config::ListenerId(lb.name, listener);
  w->Open("member")
      .Leaf("ListenerArn", config::ListenerArn(config.account, lb.name, id, lb.type))
      .Leaf("LoadBalancerArn", config::LoadBalancerArn(config.account, lb.name, lb.type))
      .Leaf("Port", listener.port)
      .Leaf("Protocol", listener.protocol);
  if (listener.protocol == "HTTPS" || listener.protocol == "TLS") {
    w->Open("Certificates");
    for (const config::ListenerCertificate& c : listener.certificates) {
      w->Open("member").Leaf("CertificateArn", config::CertificateArn(config.account, c.name));
      w->Close("member");
    }
    w->Close("Certificates").Leaf("SslPolicy", listener.ssl_policy);
  }
  if (!listener.alpn_policy.empty()) {
    w->Open("AlpnPolicy").Leaf("member", listener.alpn_policy);
    w->Close("AlpnPolicy");
  }
  WriteActions(config, "DefaultActions", listener.default_actions, w);
  if (listener.protocol == "HTTPS" || listener.protocol == "TLS") {
    WriteMutualAuthentication(config, listener.mutual_authentication, w);
  }
  w->Close("member");
}

void WriteRule(const config::Config& config, const config::LoadBalancer& lb,
               const config::Listener& listener, const config::Rule* rule, XmlWriter* w) {
  std::string listener_id = config::ListenerId(lb.name, listener);
  std::string rule_id =
      rule ? config::RuleId(listener_id, *rule) : config::DefaultRuleId(listener_id);
  w->Open("member")
      .Leaf("RuleArn", config::RuleArn(config.account, lb.name, listener_id, rule_id, lb.type))
      .Leaf("Priority", rule ? std::to_string(rule->priority) : std::string("default"));
  w->Open("Conditions");
  if (rule) {
    for (const config::Condition& c : rule->conditions) WriteCondition(c, w);
  }
  w->Close("Conditions");
  WriteActions(config, "Actions", rule ? rule->actions : listener.default_actions, w);
  w->Bool("IsDefault", rule == nullptr);
  if (rule && !rule->transforms.empty()) WriteTransforms(rule->transforms, w);
  w->Close("member");
}

void WriteTargetGroup(const config::Config& config, const config::TargetGroup& tg, XmlWriter* w) {
  const config::HealthCheck& hc = tg.health_check;
  w->Open("member")
      .Leaf("TargetGroupArn", config::TargetGroupArn(config.account, tg.name))
      .Leaf("TargetGroupName", tg.name)
      .Leaf("Protocol", tg.protocol)
      .Leaf("Port", tg.port)
      .Leaf("VpcId", "vpc-sluice")
      .Leaf("HealthCheckProtocol", hc.protocol)
      .Leaf("HealthCheckPort", hc.port)
      .Bool("HealthCheckEnabled", hc.enabled)
      .Leaf("HealthCheckIntervalSeconds", hc.interval_seconds)
      .Leaf("HealthCheckTimeoutSeconds", hc.timeout_seconds)
      .Leaf("HealthyThresholdCount", hc.healthy_threshold)
      .Leaf("UnhealthyThresholdCount", hc.unhealthy_threshold);
  if (hc.protocol != "TCP") w->Leaf("HealthCheckPath", hc.path);
  // A GRPC group's checks are judged by GrpcCode alone, any other's by HttpCode (as AWS shows).
  if (tg.protocol_version == "GRPC") {
    w->Open("Matcher").Leaf("GrpcCode", hc.grpc_matcher).Close("Matcher");
  } else {
    w->Open("Matcher").Leaf("HttpCode", hc.matcher).Close("Matcher");
  }
  WriteStrings("LoadBalancerArns", LoadBalancersOf(config, tg.name), w);
  w->Leaf("TargetType", tg.target_type)
      .Leaf("ProtocolVersion", tg.protocol_version)
      .Leaf("IpAddressType", "ipv4")
      .Close("member");
}

void WriteTargetHealth(const health::TargetHealthRow& row, XmlWriter* w) {
  w->Open("member")
      .Open("Target")
      .Leaf("Id", row.id)
      .Leaf("Port", row.port)
      .Close("Target")
      .Leaf("HealthCheckPort", std::to_string(row.health_check_port))
      .Open("TargetHealth")
      .Leaf("State", health::StateName(row, MonotonicMillis()));
  if (row.reason != health::Reason::kNone) {
    w->Leaf("Reason", health::ToString(row.reason))
        .Leaf("Description", health::Describe(row.reason, row.status_code));
  }
  w->Close("TargetHealth").Close("member");
}

}  // namespace sluice::api
