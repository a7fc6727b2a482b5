// Session-ticket keys shared by every worker and every reload of the process, rotated on a
// schedule (issue 11 item 4). The keys of period n are derived from a random process secret
// and n, so there is no key state to share, lock or publish: any thread, any listener context
// of any snapshot computes the same keys. A ticket made in period n is accepted in periods n
// and n + 1 (then re-issued under the current key), refused after.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>

namespace sluice::tls {

inline constexpr int64_t kTicketKeyPeriodSeconds = 3600;

// Makes `ctx` encrypt and decrypt its session tickets with the process's rotating keys.
void UseProcessTicketKeys(SSL_CTX* ctx);

// Tests: the clock the keys' period is read from (seconds since the epoch); null restores
// the real one. Not for use while handshakes run on other threads.
void SetTicketClockForTest(int64_t (*now)());

}  // namespace sluice::tls
