// libFuzzer target for the SigV4 verifier of the elbv2 API (src/api/sigv4.h). The input is a
// request in a line framing:
//   <method>\n<path>\n<query>\n<name>:<value>\n...<name>:<value>\n\n<body>
// (header lines up to the first empty line; a line without ':' is a header with an empty
// value; the rest is the body, as is). VerifySigV4 runs at a fixed time with a lookup that
// knows one access key (tests/fuzz/make_api_corpus.py signs the seeds with it, with botocore),
// once for region us-east-1 and once for any region. Traps (abort) when an invariant fails:
//  * a verified request names the known key, the region it was checked for, and a yyyymmdd
//    date; verified for us-east-1 means verified for any region, with the same identity; and
//    verified for any region with scope us-east-1 means verified for us-east-1;
//  * a refusal has a code, a message and a status among 400, 403, 404 and 500;
//  * the secret never appears in an error message (unless the input itself holds it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "api/sigv4.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::string_view kKeyId = "AKIDFUZZEXAMPLE00001";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYFUZZEXAMPLEKEY";
constexpr std::string_view kService = "elasticloadbalancing";
constexpr int64_t kNow = 1768478400;  // 2026-01-15T12:00:00Z, the seeds' signing time

std::string_view Line(std::string_view* in) {
  size_t nl = in->find('\n');
  std::string_view line = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return line;
}

void CheckOutcome(const sluice::api::ApiResult<sluice::api::SigV4Identity>& r,
                  std::string_view region, bool input_has_secret) {
  if (r.ok()) {
    const sluice::api::SigV4Identity& id = r.value();
    Check(id.access_key_id == kKeyId);
    if (!region.empty()) Check(id.region == region);
    Check(id.date.size() == 8 && id.date.find_first_not_of("0123456789") == std::string::npos);
    return;
  }
  const sluice::api::ApiError& e = r.error();
  Check(!e.code.empty() && !e.message.empty());
  Check(e.http_status == 400 || e.http_status == 403 || e.http_status == 404 ||
        e.http_status == 500);
  if (!input_has_secret) Check(e.message.find(kSecret) == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool input_has_secret = in.find(kSecret) != std::string_view::npos;
  sluice::api::SignedRequest req;
  req.method = Line(&in);
  req.path = Line(&in);
  req.query = Line(&in);
  while (!in.empty()) {
    std::string_view line = Line(&in);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      req.headers.emplace_back(line, std::string_view());
    } else {
      req.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
  }
  req.body = in;

  int lookups = 0;
  sluice::api::SecretLookup lookup = [&lookups](std::string_view id) -> std::optional<std::string> {
    ++lookups;
    if (id == kKeyId) return std::string(kSecret);
    return std::nullopt;
  };
  auto scoped = sluice::api::VerifySigV4(req, kService, "us-east-1", lookup, kNow);
  CheckOutcome(scoped, "us-east-1", input_has_secret);
  auto any = sluice::api::VerifySigV4(req, kService, "", lookup, kNow);
  CheckOutcome(any, "", input_has_secret);
  Check(lookups <= 2);
  if (scoped.ok()) {
    Check(any.ok() && any.value().region == scoped.value().region &&
          any.value().date == scoped.value().date);
  }
  if (any.ok() && any.value().region == "us-east-1") Check(scoped.ok());
  return 0;
}
