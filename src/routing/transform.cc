#include "routing/transform.h"

#include <re2/re2.h>

#include <utility>

#include "config/rewrite_template.h"
#include "http/host.h"
#include "routing/rule_table.h"

namespace sluice::routing {
namespace {

constexpr int kMaxGroups = 10;  // "$0".."$9"

Error ConfigError(std::string message) {
  return Error{ErrorSource::kConfig, std::move(message), false};
}

const char* TypeName(config::TransformType type) {
  return type == config::TransformType::kHostHeaderRewrite ? "host-header-rewrite" : "url-rewrite";
}

enum class RunResult { kNoMatch, kRewritten, kTooLong };

}  // namespace

struct CompiledTransforms::Rewrite {
  Rewrite(const config::RewriteConfig& config, const re2::RE2::Options& options)
      : re(config.regex, options), replace(config::ParseReplaceTemplate(config.replace)) {}

  // Rewrites the first match of `re` in `input` into *out (the text around the match kept).
  // *out is left empty unless the result was written.
  RunResult Run(std::string_view input, size_t max_size, std::string* out) const {
    re2::StringPiece groups[kMaxGroups];
    const int n = replace.max_group + 1 > 1 ? replace.max_group + 1 : 1;
    if (!re.Match(re2::StringPiece(input.data(), input.size()), 0, input.size(),
                  re2::RE2::UNANCHORED, groups, n)) {
      return RunResult::kNoMatch;
    }
    const size_t before = static_cast<size_t>(groups[0].data() - input.data());
    const size_t after = input.size() - before - groups[0].size();
    // Sized first: a replacement repeating a long capture must not build a huge string.
    size_t size = before + after;
    for (const config::ReplacePiece& p : replace.pieces) {
      size += p.group < 0 ? p.length : groups[p.group].size();
      if (size > max_size) return RunResult::kTooLong;
    }
    if (size > max_size) return RunResult::kTooLong;
    out->reserve(size);
    out->append(input.substr(0, before));
    for (const config::ReplacePiece& p : replace.pieces) {
      if (p.group < 0) {
        out->append(replace.literals, p.offset, p.length);
      } else {
        out->append(groups[p.group].data(), groups[p.group].size());
      }
    }
    out->append(input.substr(before + groups[0].size()));
    return RunResult::kRewritten;
  }

  re2::RE2 re;
  config::ReplaceTemplate replace;
};

std::string_view TransformStatusName(TransformStatus status) {
  switch (status) {
    case TransformStatus::kNone:
      return "-";
    case TransformStatus::kNoMatch:
      return "no-match";
    case TransformStatus::kSuccess:
      return "success";
    case TransformStatus::kFailed:
      return "failed";
  }
  return "-";
}

bool IsValidTransformedHost(std::string_view host) {
  return !host.empty() && host.size() <= kMaxTransformedHost && http::IsValidHost(host) &&
         HostWithoutPort(host).size() == host.size();
}

bool IsValidTransformedUri(std::string_view target) {
  if (target.empty() || target[0] != '/' || target.size() > kMaxTransformedUri) return false;
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') return false;
  }
  return true;
}

CompiledTransforms::CompiledTransforms() = default;
CompiledTransforms::~CompiledTransforms() = default;

Result<std::unique_ptr<const CompiledTransforms>> CompiledTransforms::Compile(
    const std::vector<config::Transform>& transforms) {
  if (transforms.empty()) return std::unique_ptr<const CompiledTransforms>();
  auto compiled = std::make_unique<CompiledTransforms>();
  for (const config::Transform& t : transforms) {
    const bool host = t.type == config::TransformType::kHostHeaderRewrite;
    std::unique_ptr<const Rewrite>& slot = host ? compiled->host_ : compiled->url_;
    if (slot != nullptr) {
      return ConfigError(std::string("more than one ") + TypeName(t.type) + " transform");
    }
    re2::RE2::Options options;
    options.set_log_errors(false);
    // Host names compare case-insensitively (as host-header regex conditions do); paths and
    // queries do not.
    options.set_case_sensitive(!host);
    auto rewrite = std::make_unique<const Rewrite>(t.rewrite, options);
    if (!rewrite->re.ok()) {
      return ConfigError(std::string(TypeName(t.type)) + " regex '" + t.rewrite.regex +
                         "' is not valid RE2 syntax: " + rewrite->re.error());
    }
    if (rewrite->replace.max_group > rewrite->re.NumberOfCapturingGroups()) {
      return ConfigError(std::string(TypeName(t.type)) + " replacement '" + t.rewrite.replace +
                         "' refers to $" + std::to_string(rewrite->replace.max_group) +
                         ", which the regex does not capture");
    }
    slot = std::move(rewrite);
  }
  return std::unique_ptr<const CompiledTransforms>(std::move(compiled));
}

TransformStatus CompiledTransforms::Apply(std::string_view host, std::string_view target,
                                          TransformResult* out) const {
  out->Reset();
  bool matched = false;
  bool failed = false;
  auto run = [&](const Rewrite& rewrite, std::string_view input, size_t max_size,
                 std::string* value, bool (*valid)(std::string_view)) {
    switch (rewrite.Run(input, max_size, value)) {
      case RunResult::kNoMatch:
        break;
      case RunResult::kTooLong:
        failed = true;
        break;
      case RunResult::kRewritten:
        matched = true;
        failed = failed || !valid(*value);
        break;
    }
  };
  if (host_ != nullptr && !host.empty()) {
    run(*host_, host, kMaxTransformedHost, &out->transformed_host, IsValidTransformedHost);
  }
  if (url_ != nullptr && target != "*") {
    run(*url_, target, kMaxTransformedUri, &out->transformed_uri, IsValidTransformedUri);
  }
  out->status = failed    ? TransformStatus::kFailed
                : matched ? TransformStatus::kSuccess
                          : TransformStatus::kNoMatch;
  return out->status;
}

}  // namespace sluice::routing
