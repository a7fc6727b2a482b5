// Redirect Location building. Every field is a template in which the five keywords expand
// (placement rules are the config loader's job); an unknown "#{...}" is copied literally.
// Nothing is percent-encoded or decoded: ALB copies the original components as received.

#include "routing/redirect.h"

namespace sluice::routing {
namespace {

// Appends to a string without ever growing it past kLimit. The slack over kMaxRedirectLocation
// covers the separators (':', '?') and default port that are appended and then removed again, so
// a failed append always means the final Location would have been too long.
constexpr size_t kLimit = kMaxRedirectLocation + 8;

class BoundedWriter {
 public:
  explicit BoundedWriter(std::string* out) : out_(out) {}
  bool Append(std::string_view s) {
    if (s.size() > kLimit - out_->size()) return false;
    out_->append(s);
    return true;
  }

 private:
  std::string* out_;
};

// Expands the keywords of `tmpl` through `w`. Returns false when the limit is hit.
bool Expand(std::string_view tmpl, const RedirectInputs& in, BoundedWriter& w) {
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find("#{", i);
    if (open == std::string_view::npos) return w.Append(tmpl.substr(i));
    if (!w.Append(tmpl.substr(i, open - i))) return false;
    size_t close = tmpl.find('}', open + 2);
    if (close == std::string_view::npos) return w.Append(tmpl.substr(open));
    std::string_view name = tmpl.substr(open + 2, close - open - 2);
    std::string_view value;
    bool known = true;
    if (name == "protocol") {
      value = in.protocol;
    } else if (name == "host") {
      value = in.host;
    } else if (name == "port") {
      value = in.port;
    } else if (name == "path") {
      value = in.path;
      if (!value.empty() && value.front() == '/') value.remove_prefix(1);
    } else if (name == "query") {
      value = in.query;
    } else {
      known = false;
    }
    if (known) {
      if (!w.Append(value)) return false;
      i = close + 1;
    } else {
      if (!w.Append("#{")) return false;
      i = open + 2;
    }
  }
  return true;
}

}  // namespace

bool BuildRedirectLocation(const config::RedirectConfig& config, const RedirectInputs& in,
                           std::string* out) {
  out->clear();
  BoundedWriter w(out);

  // Scheme, lower-cased ("HTTPS" -> "https").
  if (!Expand(config.protocol, in, w)) return false;
  for (char& c : *out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  if (!w.Append("://")) return false;
  if (!Expand(config.host, in, w)) return false;

  // Port: expanded in place after a ':'. ALB writes the port even when it is the scheme's
  // default ("https://host:443/..."), as responses of real ALBs show; only an empty
  // expansion drops it.
  const size_t colon = out->size();
  if (!w.Append(":")) return false;
  if (!Expand(config.port, in, w)) return false;
  std::string_view port = std::string_view(*out).substr(colon + 1);
  if (port.empty()) out->resize(colon);

  if (!Expand(config.path, in, w)) return false;

  const size_t question = out->size();
  if (!w.Append("?")) return false;
  if (!Expand(config.query, in, w)) return false;
  if (out->size() == question + 1) out->resize(question);  // empty query: no '?'
  return out->size() <= kMaxRedirectLocation;
}

}  // namespace sluice::routing
