// The matching primitives of the policy evaluator (policy.h): IAM wildcards, case folding, and
// the typed condition values (numbers, ISO 8601 times, IP addresses and CIDR blocks).
// Pure functions; safe from any thread; no exceptions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/ip_address.h"

namespace sluice::api::policy_detail {

// IAM wildcard match over the whole text: `*` matches any run of bytes (including '/' and ':'),
// `?` exactly one byte. ignore_case folds ASCII letters. O(|pattern| * |text|) at worst.
bool Glob(std::string_view pattern, std::string_view text, bool ignore_case);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);  // ASCII
std::string ToLower(std::string_view s);                        // ASCII

// A finite decimal number ("10", "-2.5", "1e3"); nothing else, no surrounding space.
std::optional<double> ParseNumber(std::string_view s);

// Seconds since the Unix epoch of an ISO 8601 time ("2026-12-31", "2026-12-31T23:59Z",
// "2026-12-31T23:59:59Z", "2026-12-31T23:59:59.5+02:00"; no zone means UTC) or of up to 12
// decimal digits (epoch seconds). Dates are checked (no 2026-02-30, no 24:00).
std::optional<double> ParseTime(std::string_view s);

// "2026-01-01T12:00:00Z": aws:CurrentTime's string form.
std::string FormatTime(int64_t unix_seconds);

// An IP address; IPv4-mapped IPv6 (::ffff:a.b.c.d, as dual-stack sockets report) counts as IPv4.
std::optional<IpAddress> ParseAddress(std::string_view s);

// A CIDR block, or a plain address meaning its /32 or /128.
std::optional<Cidr> ParseBlock(std::string_view s);

}  // namespace sluice::api::policy_detail
