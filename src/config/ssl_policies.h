// The catalogue of ALB's predefined security policies (reference §7.2): for each non-FIPS
// policy its TLS protocol versions and its ciphers in ALB's preference order (the order of
// DescribeSSLPolicies' Cipher.Priority). Pure data: the config loader checks policy names
// against it, the TLS module builds server contexts from it, and the elbv2 API will describe
// it. FIPS policies are not offered (they need a FIPS-validated provider).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

// Protocol versions as bits, in the API's names (SslProtocols).
enum TlsVersionBit : uint8_t {
  kTls10 = 1,  // "TLSv1"
  kTls11 = 2,  // "TLSv1.1"
  kTls12 = 4,  // "TLSv1.2"
  kTls13 = 8,  // "TLSv1.3"
};

struct SslPolicy {
  std::string_view name;
  uint8_t versions = 0;                   // TlsVersionBit set
  std::vector<std::string_view> ciphers;  // OpenSSL names, most preferred first
  bool post_quantum = false;              // adds the hybrid ML-KEM key-exchange groups
};

// The default when a listener names none (the API's default).
inline constexpr std::string_view kDefaultSslPolicy = "ELBSecurityPolicy-2016-08";

// Every policy, in a stable order (the order of reference §7.2's table).
std::span<const SslPolicy> SslPolicies();
// The policy called `name` (exact, case-sensitive as in the API), or null.
const SslPolicy* FindSslPolicy(std::string_view name);
// "TLSv1.2, TLSv1.3"-style list of a policy's versions, lowest first.
std::string DescribeVersions(uint8_t versions);

}  // namespace sluice::config
