// `sluice cert self-signed`: writes a self-signed certificate and its key for local HTTPS
// (the demo makes its own with it when the files are missing).
#pragma once

#include <string>

#include "base/result.h"
#include "tls/self_signed.h"

namespace sluice::app {

// Writes the PEM certificate (mode 0644) and key (0600, never over an existing file) of a new
// self-signed certificate; makes the files' directory when it is missing.
Result<bool> WriteSelfSigned(const tls::SelfSignedRequest& request, const std::string& cert_path,
                             const std::string& key_path);

}  // namespace sluice::app
