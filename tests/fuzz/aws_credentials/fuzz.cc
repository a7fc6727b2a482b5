// libFuzzer target for the AWS shared credentials file reader (config/s3.h
// ParseAwsCredentials) and the S3 request signer it feeds (api/s3_sign.h). The input is the
// file's text; its first line, when short, also names the profile.
// Traps (abort) when an invariant fails:
//  * a failure's message is one short line (fixed words, a line number, the profile name);
//  * a success has both keys, none holding a control byte, and the profile was in the file;
//  * the signed head of a PUT with those keys has exactly one blank line (at its end), no
//    control byte but its CRLF line ends, and starts with the request line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/s3_sign.h"
#include "api/sigv4.h"
#include "config/s3.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string profile = "default";
  if (const size_t nl = text.find('\n'); nl != std::string_view::npos && nl < 16 && nl > 0 &&
                                         text.substr(0, nl).find('[') == std::string_view::npos) {
    profile = std::string(text.substr(0, nl));
  }
  std::string why;
  const auto creds = sluice::config::ParseAwsCredentials(text, profile, &why);
  if (!creds) {
    Check(!why.empty());
    // Only fixed words, a line number and the profile name: one short line.
    Check(why.find('\n') == std::string::npos && why.size() < 80 + profile.size());
    return 0;
  }
  Check(!creds->access_key_id.empty() && !creds->secret_access_key.empty());
  Check(text.find(profile) != std::string_view::npos);
  for (const std::string* v :
       {&creds->access_key_id, &creds->secret_access_key, &creds->session_token}) {
    for (unsigned char c : *v) Check(c >= 0x20 && c != 0x7f);
  }
  // A key with a CR or other control byte could split the head: the signer is only ever given
  // keys the file reader returned, so check what it makes of them.
  const std::string head = sluice::api::S3PutObjectHead(
      "127.0.0.1:9000", "my-logs", "k/AWSLogs/x.log.gz", 3, sluice::api::Sha256Hex("abc"), *creds,
      "us-east-1", "20261206T000000Z");
  if (head.empty()) return 0;
  Check(head.starts_with("PUT /my-logs/k/AWSLogs/x.log.gz HTTP/1.1\r\n"));
  Check(head.find("\r\n\r\n") == head.size() - 4);
  for (size_t i = 0; i < head.size(); ++i) {  // no control byte but CRLF line ends
    const unsigned char c = static_cast<unsigned char>(head[i]);
    if (c == '\r') Check(i + 1 < head.size() && head[i + 1] == '\n');
    if (c == '\n') Check(i > 0 && head[i - 1] == '\r');
    if (c != '\r' && c != '\n') Check(c >= 0x20 && c != 0x7f);
  }
  return 0;
}
