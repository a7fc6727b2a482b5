// libFuzzer target for the S3 GET Object response reader (app/s3_get.h ParseS3GetResponse),
// what CreateTrustStore makes of an S3-compatible store's answer. The input is the whole
// response as read up to the close.
// Traps (abort) when an invariant fails:
//  * exactly one of an object and an error: a 2xx status with no error, or an error with no
//    object;
//  * the object is at most the bound, and is a piece of the input unless the input may be
//    chunked (it names "chunked" in any case);
//  * never incomplete at the end of the stream; before it, incomplete means no error;
//  * an error is one short line; the store's code is at most 64 bytes.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "app/s3_get.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  constexpr size_t kBound = 1024;
  const sluice::app::S3GetResult r = sluice::app::ParseS3GetResponse(raw, kBound);
  Check(!r.incomplete);
  if (r.error.empty()) {
    Check(r.status >= 200 && r.status <= 299);
    Check(r.body.size() <= kBound && r.body.size() <= raw.size());
    std::string lower(raw);
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    Check(raw.find(r.body) != std::string_view::npos || lower.find("chunked") != std::string::npos);
    Check(r.s3_code.empty());
  } else {
    Check(r.body.empty());
    Check(r.error.find('\n') == std::string::npos && r.error.size() < 200);
  }
  Check(r.s3_code.size() <= 64);
  // The same bytes before the end of the stream: incomplete, or the same verdict.
  const sluice::app::S3GetResult early = sluice::app::ParseS3GetResponse(raw, kBound, false);
  Check(!early.incomplete ? early.error == r.error && early.body == r.body : early.error.empty());
  return 0;
}
