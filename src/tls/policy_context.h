// An OpenSSL context configured from an ALB security policy (config/ssl_policies.h): its
// protocol versions, its ciphers in preference order and its key-exchange groups. Shared by
// the listener side (server_context.h) and the target side (client_context.h). Control thread.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "config/ssl_policies.h"

namespace sluice::tls {

// A new context for `method` (TLS_server_method() or TLS_client_method()) limited to
// `policy`, with renegotiation and compression off and released idle buffers; null with
// `*error` saying why OpenSSL refused (e.g. a PQ policy whose groups it lacks).
SSL_CTX* NewPolicyContext(const SSL_METHOD* method, const config::SslPolicy& policy,
                          std::string* error);

}  // namespace sluice::tls
