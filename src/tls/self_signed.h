// A self-signed certificate for local use (`sluice cert self-signed`, the demo's HTTPS
// listener): what `openssl req -x509` would make, without needing the openssl tool.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "tls/certificate.h"

namespace sluice::tls {

struct SelfSignedRequest {
  std::vector<std::string> names;      // DNS names or IP addresses; the first is also the CN
  KeyType key_type = KeyType::kEcdsa;  // ECDSA P-256, or RSA 2048
  int days = 365;
};

struct PemPair {
  std::string certificate;
  std::string private_key;
};

Result<PemPair> MakeSelfSigned(const SelfSignedRequest& request, int64_t now);

}  // namespace sluice::tls
