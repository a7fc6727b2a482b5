// Rule transforms (reference §1.4): host-header-rewrite and url-rewrite, applied to a request
// after its rule matched (they never change which rule matches) and before it is forwarded.
//
// CompiledTransforms is built once per config snapshot on the control thread (regexes and
// replacement templates compiled there), then only read: Apply() may run concurrently on every
// worker. Apply() allocates only to write a rewritten value into the caller's TransformResult
// (whose capacity is reused); a rule without transforms has no CompiledTransforms at all, so
// the request path pays one null check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "config/model.h"
#include "http/h1_parser.h"

namespace sluice::routing {

// Access-log field 33, request_transform_status (its vocabulary is not documented; Sluice's
// choice, docs/alb-compatibility.md).
enum class TransformStatus : uint8_t {
  kNone,     // "-": the matched rule has no transforms, or the request was not forwarded
  kNoMatch,  // "no-match": transforms ran, no regex matched; the request goes unchanged
  kSuccess,  // "success": at least one regex matched and every rewritten value is valid
  kFailed,   // "failed": a rewrite produced an invalid value; the client gets 500
};

// "-", "no-match", "success", "failed".
std::string_view TransformStatusName(TransformStatus status);

// What a rule's transforms did to one request: access-log fields 31-33.
struct TransformResult {
  TransformStatus status = TransformStatus::kNone;
  // The rewritten values; empty when not rewritten (logged as "-"). A rewrite never yields an
  // empty value that counts: an empty result is a failure. After a failure the offending value
  // is kept here as produced (unless it was too long to build), for the log.
  std::string transformed_host;  // without port; the Host sent upstream keeps the port part
  std::string transformed_uri;   // origin-form path and query

  // Back to kNone with no values; keeps the strings' capacity.
  void Reset() {
    status = TransformStatus::kNone;
    transformed_host.clear();
    transformed_uri.clear();
  }
  // Reset() and free the strings' memory (for idle connections).
  void Release() {
    Reset();
    std::string().swap(transformed_host);
    std::string().swap(transformed_uri);
  }
};

// Bounds on a rewritten value; longer ones fail the transform.
inline constexpr size_t kMaxTransformedHost = 255;  // a DNS name is at most 253 characters
inline constexpr size_t kMaxTransformedUri = http::kMaxRequestLine;

// True when `host` may be sent as the host part of a Host field: non-empty, at most
// kMaxTransformedHost bytes, a valid uri-host (reg-name or IP literal) and no ":port".
bool IsValidTransformedHost(std::string_view host);
// True when `target` may be sent as an origin-form request target: starts with '/', at most
// kMaxTransformedUri bytes, no control character, space, DEL or '#'.
bool IsValidTransformedUri(std::string_view target);

class CompiledTransforms {
 public:
  // Null (and no error) when `transforms` is empty. Fails on a regex RE2 rejects or a
  // replacement that refers to a group the regex lacks (the loader rejects both first).
  static Result<std::unique_ptr<const CompiledTransforms>> Compile(
      const std::vector<config::Transform>& transforms);

  CompiledTransforms();
  ~CompiledTransforms();
  CompiledTransforms(const CompiledTransforms&) = delete;
  CompiledTransforms& operator=(const CompiledTransforms&) = delete;

  // Applies the transforms to one request and returns out->status (also kNoMatch when there
  // was nothing to rewrite). `host` is the request's host as host-header conditions see it
  // (without port; empty when the request has none, and then host-header-rewrite does not
  // apply). `target` is the origin-form path and query sent upstream; the asterisk form "*"
  // has no path and url-rewrite does not apply to it. The regex replaces its first match
  // (leftmost) only. `*out` is overwritten.
  TransformStatus Apply(std::string_view host, std::string_view target, TransformResult* out) const;

  bool has_host_rewrite() const { return host_ != nullptr; }
  bool has_url_rewrite() const { return url_ != nullptr; }

  struct Rewrite;

 private:
  std::unique_ptr<const Rewrite> host_;
  std::unique_ptr<const Rewrite> url_;
};

}  // namespace sluice::routing
