// Reads one object from the S3-compatible store of the config's `S3` section: what the API's
// CreateTrustStore and ModifyTrustStore fetch for a CA bundle (AWS reads it from S3 too).
// One signed GET per call (api/s3_sign.h), `Connection: close`, the response bounded in
// size and time.
//
// Thread: GetObjectFromS3 blocks (network I/O); control-plane threads only (the API's
// connection thread). ParseS3GetResponse is pure. No exceptions (beyond std::bad_alloc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "app/s3_upload.h"

namespace sluice::app {

struct S3GetResult {
  int status = 0;           // the store's HTTP status; 0 when no response was read
  std::string body;         // 2xx: the object
  std::string error;        // why there is no object ("" on 2xx)
  std::string s3_code;      // the store's <Code> on an error response (NoSuchKey, AccessDenied)
  bool incomplete = false;  // more bytes are needed (only when not at the end of the stream)
};

// The object in the response `raw` (the bytes read so far; `at_end`: the store closed after
// them): its status, and the body framed by Content-Length, chunked coding or the close, at
// most `max_body` bytes. Interim 1xx responses are skipped. An error response's <Code> goes to
// s3_code. `incomplete` when the response goes on past `raw` and the stream has not ended.
S3GetResult ParseS3GetResponse(std::string_view raw, size_t max_body, bool at_end = true);

// GET bucket/key (version `version_id` when not empty) from `target`, the object at most
// `max_body` bytes: the connect (per address), the TLS handshake and each send are bounded by
// `timeout_ms`, and the response must be complete `timeout_ms` after the request was signed.
// Reading stops once the response is complete by its framing.
S3GetResult GetObjectFromS3(const S3Target& target, const std::string& bucket,
                            const std::string& key, const std::string& version_id, size_t max_body,
                            int timeout_ms);

}  // namespace sluice::app
