// The request target split into authority, path and query (origin-form, absolute-form, "*"):
// what routing matches and what is sent upstream. Pure.
#include "http/header.h"
#include "proxy/request_rewrite.h"

namespace sluice::proxy {

using http::EqualsIgnoreCase;

bool SplitRequestTarget(std::string_view target, RequestTarget* out) {
  *out = {};
  if (size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);  // a fragment is never sent (RFC 9112 §3.2)
  }
  if (target == "*") {
    out->path = target;
    out->path_and_query = target;
    return true;
  }
  if (target.empty()) return false;
  if (target[0] != '/') {
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return false;
    std::string_view scheme = target.substr(0, scheme_end);
    if (!EqualsIgnoreCase(scheme, "http") && !EqualsIgnoreCase(scheme, "https")) return false;
    std::string_view rest = target.substr(scheme_end + 3);
    size_t slash = rest.find_first_of("/?");
    out->authority = rest.substr(0, slash);
    if (out->authority.empty()) return false;
    target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
    if (target[0] == '?') {
      // "http://host?x": the path is "/" and the query follows; send "/?x".
      out->path = "/";
      out->query = target.substr(1);
      out->path_and_query = target;  // caller prefixes '/' when path_and_query starts with '?'
      return true;
    }
  }
  out->path_and_query = target;
  size_t q = target.find('?');
  out->path = target.substr(0, q);
  if (q != std::string_view::npos) out->query = target.substr(q + 1);
  return true;
}

}  // namespace sluice::proxy
