#include "api/attributes.h"

#include <yaml-cpp/yaml.h>

#include <variant>

#include "config/export.h"
#include "config/loader.h"

namespace sluice::api {
namespace {

// The `Attributes` map at `path` (e.g. {"LoadBalancers", 0}) of the exported `config`.
AttributePairs PairsAt(const config::Config& config, const char* list, const char* inner) {
  AttributePairs out;
  std::string yaml = config::ExportYaml(config);
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml);
    YAML::Node node = doc[list][0];
    if (inner != nullptr) node = node[inner][0];
    for (const auto& kv : node["Attributes"]) {
      out.emplace_back(kv.first.Scalar(), kv.second.Scalar());
    }
  } catch (const YAML::Exception&) {
    // The exporter writes valid YAML; nothing to list otherwise.
  }
  return out;
}

// A double-quoted YAML scalar: `"`, `\` and control characters escaped.
std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

// The merged map as YAML lines at `indent`; an invalid key is a ValidationError here so that
// nothing but a key reaches the document.
ApiResult<std::string> AttributeLines(AttributePairs current, const AttributePairs& changes,
                                      int indent) {
  for (const auto& [key, value] : changes) {
    bool ok = !key.empty() && key.size() <= 256;
    for (char c : key) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-');
    }
    if (!ok) return SenderError("ValidationError", "Attribute key '" + key + "' is not valid");
    bool replaced = false;
    for (auto& [k, v] : current) {
      if (k == key) {
        v = value;
        replaced = true;
      }
    }
    if (!replaced) current.emplace_back(key, value);
  }
  std::string out;
  for (const auto& [key, value] : current) {
    out += std::string(static_cast<size_t>(indent), ' ') + key + ": " + Quoted(value) + "\n";
  }
  return out;
}

ApiResult<config::Config> LoadProbe(const std::string& yaml, const std::string& label) {
  config::LoadResult r = config::LoadConfigFromString(yaml, label);
  if (auto* errors = std::get_if<config::ConfigErrors>(&r)) {
    std::string message;
    for (const config::ConfigError& e : *errors) {
      if (!message.empty()) message += "; ";
      std::string field = e.field;
      size_t at = field.find("Attributes.");
      message += (at == std::string::npos ? field : field.substr(at + 11)) + ": " + e.message;
    }
    return SenderError("ValidationError", message);
  }
  return std::move(std::get<config::Config>(r));
}

// A one-listener document whose listener has `protocol`'s attribute rules, with `lines` as its
// Attributes. A network listener forwards to a probe group of a protocol it may reach; a TLS
// listener is probed as a TCP one (a TLS one needs a certificate file), so the key AWS's TLS
// listeners lack is refused here first, in the loader's words.
std::string ListenerProbe(const std::string& protocol, const std::string& lines) {
  if (protocol == "HTTP" || protocol == "HTTPS") {
    return "LoadBalancers:\n  - Name: probe\n    Listeners:\n      - Protocol: HTTP\n"
           "        Port: 1\n        DefaultActions: [{Type: fixed-response, "
           "FixedResponseConfig: {StatusCode: \"200\"}}]\n        Attributes:\n" +
           lines;
  }
  const std::string as = protocol == "TLS" ? "TCP" : protocol;
  const std::string group = as == "UDP" ? "UDP" : as == "TCP_UDP" ? "TCP_UDP" : "TCP";
  return "LoadBalancers:\n  - Name: probe\n    Type: network\n    Listeners:\n      - Protocol: " +
         as +
         "\n        Port: 1\n        DefaultActions: [{Type: forward, TargetGroupName: probe}]\n"
         "        Attributes:\n" +
         lines + "TargetGroups:\n  - {Name: probe, Protocol: " + group +
         ", Port: 1, HealthCheckProtocol: TCP}\n";
}

}  // namespace

AttributePairs LoadBalancerAttributePairs(const config::Config& config,
                                          const config::LoadBalancer& lb) {
  config::Config one;
  one.account = config.account;
  one.load_balancers.push_back(lb);
  one.load_balancers[0].listeners.clear();
  return PairsAt(one, "LoadBalancers", nullptr);
}

AttributePairs TargetGroupAttributePairs(const config::Config& config,
                                         const config::TargetGroup& tg) {
  config::Config one;
  one.account = config.account;
  one.target_groups.push_back(tg);
  one.target_groups[0].targets.clear();
  return PairsAt(one, "TargetGroups", nullptr);
}

AttributePairs ListenerAttributePairs(const config::Config& config,
                                      const config::Listener& listener) {
  config::Config one;
  one.account = config.account;
  config::LoadBalancer lb;
  lb.name = "probe";
  lb.listeners.push_back(listener);
  lb.listeners[0].rules.clear();
  one.load_balancers.push_back(std::move(lb));
  return PairsAt(one, "LoadBalancers", "Listeners");
}

ApiResult<config::LoadBalancerAttributes> ApplyLoadBalancerAttributes(
    const config::Config& config, const config::LoadBalancer& lb, const AttributePairs& changes,
    const std::string& label) {
  auto lines = AttributeLines(LoadBalancerAttributePairs(config, lb), changes, 6);
  if (!lines.ok()) return lines.error();
  auto loaded = LoadProbe("LoadBalancers:\n  - Name: probe\n    Type: " + Quoted(lb.type) +
                              "\n    Attributes:\n" + lines.value(),
                          label);
  if (!loaded.ok()) return loaded.error();
  return loaded.value().load_balancers[0].attributes;
}

ApiResult<config::TargetGroupAttributes> ApplyTargetGroupAttributes(const config::Config& config,
                                                                    const config::TargetGroup& tg,
                                                                    const AttributePairs& changes,
                                                                    const std::string& label) {
  auto lines = AttributeLines(TargetGroupAttributePairs(config, tg), changes, 6);
  if (!lines.ok()) return lines.error();
  std::string yaml = "TargetGroups:\n  - Name: probe\n    Protocol: " + Quoted(tg.protocol) +
                     "\n    Port: " + std::to_string(tg.port) + "\n    Attributes:\n" +
                     lines.value();
  auto loaded = LoadProbe(yaml, label);
  if (!loaded.ok()) return loaded.error();
  return loaded.value().target_groups[0].attributes;
}

ApiResult<config::ListenerAttributes> ApplyListenerAttributes(const config::Config& config,
                                                              const config::Listener& listener,
                                                              const AttributePairs& changes,
                                                              const std::string& label) {
  auto lines = AttributeLines(ListenerAttributePairs(config, listener), changes, 10);
  if (!lines.ok()) return lines.error();
  if (listener.protocol == "TLS") {
    for (const auto& [key, value] : changes) {
      if (key == "sluice.max_connections") continue;
      return SenderError("ValidationError",
                         "unknown TLS listener attribute '" + key +
                             "'; a TLS listener has none (its idle timeout is fixed at 350 "
                             "seconds; Sluice's sluice.max_connections is supported)");
    }
  }
  auto loaded = LoadProbe(ListenerProbe(listener.protocol, lines.value()), label);
  if (!loaded.ok()) return loaded.error();
  return loaded.value().load_balancers[0].listeners[0].attributes;
}

}  // namespace sluice::api
