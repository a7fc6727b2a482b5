#include "routing/condition.h"

#include <re2/re2.h>

#include <utility>

#include "config/condition_fields.h"
#include "http/header.h"
#include "routing/path_normalize.h"
#include "routing/query.h"

namespace sluice::routing {
namespace {

using config::ConditionField;

Error ConfigError(std::string message) {
  return Error{ErrorSource::kConfig, std::move(message), false};
}

// An IPv4-mapped IPv6 peer (::ffff:a.b.c.d from a dual-stack socket) is tested as IPv4.
IpAddress Unmapped(IpAddress ip) {
  if (!ip.is_v4) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    bool mapped = true;
    for (int i = 0; i < 12; ++i) mapped = mapped && ip.bytes[i] == kMapped[i];
    if (mapped) ip.is_v4 = true;
  }
  return ip;
}

bool RegexSearch(const re2::RE2& re, std::string_view text) {
  return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::UNANCHORED,
                  nullptr, 0);
}

}  // namespace

std::string_view HostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  return host.substr(0, host.find(':'));
}

// ---- RequestContext ----------------------------------------------------------------------------

bool RequestContext::NormalizedPath(std::string_view* out) {
  if (path_state_ == State::kNotYet) {
    size_t n = NormalizePath(facts_.path, scratch_.path, sizeof(scratch_.path));
    if (n == kNormalizeOverflow) {
      path_state_ = State::kTooLong;
    } else {
      path_state_ = State::kReady;
      path_ = std::string_view(scratch_.path, n);
    }
  }
  *out = path_;
  return path_state_ == State::kReady;
}

bool RequestContext::DecodedQuery(std::string_view* out) {
  if (query_state_ == State::kNotYet) {
    size_t n = DecodeQuery(facts_.query, scratch_.query, sizeof(scratch_.query));
    if (n == kQueryOverflow) {
      query_state_ = State::kTooLong;
    } else {
      query_state_ = State::kReady;
      query_records_ = std::string_view(scratch_.query, n);
    }
  }
  *out = query_records_;
  return query_state_ == State::kReady;
}

// ---- CompiledCondition -------------------------------------------------------------------------

CompiledCondition::CompiledCondition(CompiledCondition&&) noexcept = default;
CompiledCondition& CompiledCondition::operator=(CompiledCondition&&) noexcept = default;
CompiledCondition::~CompiledCondition() = default;

Result<CompiledCondition> CompiledCondition::Compile(const config::Condition& condition) {
  CompiledCondition c;
  c.field_ = condition.field;
  const bool path = condition.field == ConditionField::kPathPattern;
  switch (condition.field) {
    case ConditionField::kHostHeader:
    case ConditionField::kPathPattern:
    case ConditionField::kHttpHeader: {
      const GlobCase case_mode = path ? GlobCase::kSensitive : GlobCase::kInsensitive;
      for (const std::string& v : condition.values) {
        c.globs_.push_back(Glob::Compile(v, case_mode, GlobEscapes::kNone));
      }
      re2::RE2::Options options;
      options.set_log_errors(false);
      options.set_never_capture(true);
      // Host names and header values compare case-insensitively, so do their regexes.
      options.set_case_sensitive(path);
      for (const std::string& r : condition.regex_values) {
        auto re = std::make_unique<re2::RE2>(r, options);
        if (!re->ok()) {
          return ConfigError(std::string(config::InfoOf(condition.field).name) + " regex '" + r +
                             "' is not valid RE2 syntax: " + re->error());
        }
        c.regexes_.push_back(std::move(re));
      }
      if (condition.field == ConditionField::kHttpHeader) {
        c.header_name_ = condition.http_header_name;
      }
      break;
    }
    case ConditionField::kHttpRequestMethod:
      c.methods_ = condition.values;
      break;
    case ConditionField::kQueryString:
      for (const config::QueryStringKeyValue& kv : condition.query_values) {
        QueryPattern q;
        q.has_key = kv.key.has_value();
        if (q.has_key)
          q.key = Glob::Compile(*kv.key, GlobCase::kInsensitive, GlobEscapes::kBackslash);
        q.value = Glob::Compile(kv.value, GlobCase::kInsensitive, GlobEscapes::kBackslash);
        c.query_.push_back(std::move(q));
      }
      break;
    case ConditionField::kSourceIp:
      for (const std::string& v : condition.values) {
        std::optional<Cidr> cidr = Cidr::Parse(v);
        if (!cidr) return ConfigError("source-ip value '" + v + "' is not a CIDR block");
        c.cidrs_.push_back(*cidr);
      }
      break;
  }
  return c;
}

int CompiledCondition::cost() const {
  switch (field_) {
    case ConditionField::kHttpRequestMethod:
      return 0;
    case ConditionField::kSourceIp:
      return 1;
    case ConditionField::kHostHeader:
      return 2 + (has_regex() ? 4 : 0);
    case ConditionField::kPathPattern:
      return 3 + (has_regex() ? 4 : 0);
    case ConditionField::kHttpHeader:
      return 4 + (has_regex() ? 4 : 0);
    case ConditionField::kQueryString:
      return 5;
  }
  return 9;
}

bool CompiledCondition::AnyGlobOrRegex(std::string_view text) const {
  for (const Glob& g : globs_) {
    if (g.Match(text)) return true;
  }
  for (const auto& re : regexes_) {
    if (RegexSearch(*re, text)) return true;
  }
  return false;
}

bool CompiledCondition::MatchesHeader(const RequestContext& ctx) const {
  for (const http::HeaderField& h : ctx.facts().headers) {
    if (http::EqualsIgnoreCase(h.name, header_name_) && AnyGlobOrRegex(h.value)) return true;
  }
  return false;
}

bool CompiledCondition::MatchesQuery(RequestContext& ctx) const {
  std::string_view records;
  if (!ctx.DecodedQuery(&records)) return false;
  DecodedPairs pairs(records);
  std::string_view key, value;
  while (pairs.Next(&key, &value)) {
    for (const QueryPattern& q : query_) {
      if ((!q.has_key || q.key.Match(key)) && q.value.Match(value)) return true;
    }
  }
  return false;
}

bool CompiledCondition::Matches(RequestContext& ctx) const {
  switch (field_) {
    case ConditionField::kHostHeader:
      // A request without a Host (HTTP/1.0) matches no host-header condition.
      return !ctx.host().empty() && AnyGlobOrRegex(ctx.host());
    case ConditionField::kPathPattern: {
      std::string_view path;
      return ctx.NormalizedPath(&path) && AnyGlobOrRegex(path);
    }
    case ConditionField::kHttpHeader:
      return MatchesHeader(ctx);
    case ConditionField::kHttpRequestMethod:
      for (const std::string& m : methods_) {
        if (m == ctx.facts().method) return true;
      }
      return false;
    case ConditionField::kQueryString:
      return MatchesQuery(ctx);
    case ConditionField::kSourceIp: {
      const IpAddress peer = Unmapped(ctx.facts().source_ip);
      for (const Cidr& c : cidrs_) {
        if (c.Contains(peer)) return true;
      }
      return false;
    }
  }
  return false;
}

}  // namespace sluice::routing
