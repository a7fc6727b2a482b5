// Internal to the config loader: the field rules of the elbv2 model as pure functions.
//
// Each Check* returns an empty string when the value is acceptable, otherwise the complete
// error message (the caller adds file, position and field path). References are to
// ../shared/reference/alb-nlb.md. No I/O, no allocation beyond the returned message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {
struct Tag;
struct TargetGroup;
}  // namespace sluice::config

namespace sluice::config::internal {

// Limits from the reference (§1.2, §1.3, §1.5, §10).
inline constexpr size_t kMaxConditionValueLength = 128;
inline constexpr size_t kMaxRegexLength = 128;
inline constexpr size_t kMaxHeaderNameLength = 40;
inline constexpr size_t kMaxMethodLength = 40;
inline constexpr int kMaxValuesPerCondition = 3;  // "match evaluations per condition"
inline constexpr int kMaxSourceIpValues = 5;      // source-ip's own limit
inline constexpr int kMaxValuesPerRule = 5;       // "condition values per rule"
inline constexpr int kMaxWildcardsPerRule = 5;    // "condition wildcards per rule"
inline constexpr int kMaxTargetGroupsPerAction = 5;
inline constexpr size_t kMaxMessageBody = 1024;
inline constexpr size_t kMaxRedirectComponent = 128;
inline constexpr size_t kMaxHealthCheckPath = 1024;
inline constexpr size_t kMaxTargetsPerGroup = 1000;
inline constexpr size_t kMaxTransformRegexLength = 1024;    // RewriteConfig.Regex
inline constexpr size_t kMaxTransformReplaceLength = 1024;  // RewriteConfig.Replace

// ---- Names (§9.5) -------------------------------------------------------------------------

// Load balancer / target group name: 1..32 of [A-Za-z0-9-], no leading/trailing '-'.
std::string CheckResourceName(std::string_view name);

// A tag's key: 1..128 characters, not starting with the reserved "aws:", no NUL (which the
// loader refuses in any string).
std::string CheckTagKey(std::string_view key);
// A tag's value: at most 256 characters, no NUL.
std::string CheckTagValue(std::string_view key, std::string_view value);
// A resource's tags as the loader judges them (ParseTags): at most kMaxTags, each key and
// value as above, no key twice. For a change made to an already loaded model that touches
// nothing else (the API's AddTags), so that it need not be loaded again.
inline constexpr size_t kMaxTags = 50;
std::string CheckTags(const std::vector<Tag>& tags);

// ---- Conditions (§1.2, §1.3) ----------------------------------------------------------------

// host-header value: <= 128 of A-Z a-z 0-9 - . * ?; unless it is wildcards only, it needs a
// '.' followed by an alphabetic top-level domain (wildcards allowed there).
std::string CheckHostPattern(std::string_view value);
// path-pattern value: <= 128 of A-Z a-z 0-9 _ - . $ / ~ " ' @ : + & * ?.
std::string CheckPathPattern(std::string_view value);
// http-header name: 1..40 RFC 7230 token characters without '*', and not "Host".
std::string CheckHeaderName(std::string_view name);
// http-header value: 1..128 visible ASCII characters or spaces.
std::string CheckHeaderValue(std::string_view value);
// http-request-method value: 1..40 of A-Z - _.
std::string CheckMethod(std::string_view value);
// query-string Key or Value (`what` names it in the message): 1..128 visible ASCII.
std::string CheckQueryPart(std::string_view value, std::string_view what);
// source-ip value: an IPv4/IPv6 CIDR without host bits, not 255.255.255.255/32.
std::string CheckSourceCidr(std::string_view value);
// RegexValues entry: 1..128 characters that RE2 compiles.
std::string CheckRegex(std::string_view value);
// "" when RE2 compiles `value` (and *capture_groups, when given, is set to its number of
// capturing groups); otherwise "regex '...' does not compile: <RE2's reason>", with a hint
// when look-around or a back-reference is the likely cause.
std::string RegexCompileMessage(std::string_view value, int* capture_groups);

// Number of '*' and '?' in a condition value. With `escapes`, "\*" and "\?" (query-string
// literals) are not wildcards.
int CountWildcards(std::string_view value, bool escapes);

// ---- Transforms (§1.4) ----------------------------------------------------------------------

// RewriteConfig.Regex: 1..1024 characters that RE2 compiles; *capture_groups is set to its
// number of capturing groups (-1 when it does not compile).
std::string CheckTransformRegex(std::string_view value, int* capture_groups);
// RewriteConfig.Replace: 0..1024 characters that could appear in the rewritten value (a
// url-rewrite: visible ASCII except '#'; a host-header-rewrite: the characters of a host name
// or IP literal), referring to no group above `capture_groups` (not checked when negative).
std::string CheckTransformReplace(std::string_view value, bool host, int capture_groups);

// ---- Actions (§1.5) -------------------------------------------------------------------------

std::string CheckRedirectProtocol(std::string_view value);  // HTTP | HTTPS | #{protocol}
std::string CheckRedirectPort(std::string_view value);      // 1..65535 | #{port}
std::string CheckRedirectHost(std::string_view value);      // 1..128, keyword #{host}
std::string CheckRedirectPath(
    std::string_view value);  // 1..128, starts with '/', #{path,host,port}
std::string CheckRedirectQuery(std::string_view value);  // 0..128, any keyword, no leading '?'
// "HTTP_301" -> 301, "HTTP_302" -> 302; 0 when invalid.
int ParseRedirectStatus(std::string_view value);
// fixed-response StatusCode: ^(2|4|5)\d\d$; 0 when invalid.
int ParseFixedResponseStatus(std::string_view value);
std::string CheckContentType(std::string_view value);  // one of the five ALB allows
std::string CheckMessageBody(std::string_view value);  // <= 1024 characters

// ---- Target groups (§2.3, §2.5) ---------------------------------------------------------------

// Matcher.HttpCode: comma-separated codes and ranges ("200", "200-299", "200,202,301"), each
// code within 200..499.
std::string CheckMatcher(std::string_view value);
// Matcher.GrpcCode: the same syntax ("0", "0,1", "0-5"), each code within 0..99.
std::string CheckGrpcMatcher(std::string_view value);
// HealthCheckPath: 1..1024 visible ASCII characters starting with '/'.
std::string CheckHealthCheckPath(std::string_view value);
// stickiness.app_cookie.cookie_name: a cookie-name token not starting with AWSALB.
std::string CheckAppCookieName(std::string_view value);
// A target group's Targets as the loader judges them (ParseTargets): at most
// kMaxTargetsPerGroup, each Id an IP address, each port 1..65535, no (address, port) twice
// (addresses compared in canonical form). For a change made to an already loaded model that
// touches nothing else (the API's RegisterTargets), so that it need not be loaded again.
std::string CheckTargets(const TargetGroup& group);

}  // namespace sluice::config::internal
