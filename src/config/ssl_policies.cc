#include "config/ssl_policies.h"

#include <array>

namespace sluice::config {
namespace {

// Cipher groups of reference §7.2: TLS 1.3 suites, ECDHE-GCM, ECDHE-CBC-SHA2, ECDHE-CBC-SHA1,
// RSA key exchange with SHA2 / SHA1, and 3DES.
enum Group : uint8_t { k13 = 1, kG = 2, kC2 = 4, kC1 = 8, kR2 = 16, kR1 = 32, kD = 64 };

struct CipherEntry {
  std::string_view name;
  uint8_t group;
};

// ALB's preference order across all policies; a policy keeps the members of its groups.
constexpr CipherEntry kCipherOrder[] = {
    {"TLS_AES_128_GCM_SHA256", k13},
    {"TLS_AES_256_GCM_SHA384", k13},
    {"TLS_CHACHA20_POLY1305_SHA256", k13},
    {"ECDHE-ECDSA-AES128-GCM-SHA256", kG},
    {"ECDHE-RSA-AES128-GCM-SHA256", kG},
    {"ECDHE-ECDSA-AES128-SHA256", kC2},
    {"ECDHE-RSA-AES128-SHA256", kC2},
    {"ECDHE-ECDSA-AES128-SHA", kC1},
    {"ECDHE-RSA-AES128-SHA", kC1},
    {"ECDHE-ECDSA-AES256-GCM-SHA384", kG},
    {"ECDHE-RSA-AES256-GCM-SHA384", kG},
    {"ECDHE-ECDSA-AES256-SHA384", kC2},
    {"ECDHE-RSA-AES256-SHA384", kC2},
    {"ECDHE-RSA-AES256-SHA", kC1},
    {"ECDHE-ECDSA-AES256-SHA", kC1},
    {"AES128-GCM-SHA256", kR2},
    {"AES128-SHA256", kR2},
    {"AES128-SHA", kR1},
    {"AES256-GCM-SHA384", kR2},
    {"AES256-SHA256", kR2},
    {"AES256-SHA", kR1},
    {"DES-CBC3-SHA", kD},
};

struct PolicyRow {
  std::string_view name;
  uint8_t versions;
  uint8_t groups;
  bool post_quantum;
};

constexpr uint8_t k10to12 = kTls10 | kTls11 | kTls12;
constexpr uint8_t kAll = kTls10 | kTls11 | kTls12 | kTls13;
constexpr uint8_t kAllGroups = k13 | kG | kC2 | kC1 | kR2 | kR1;

// Reference §7.2's table (non-FIPS), then the PQ variants with their namesakes' contents.
constexpr PolicyRow kRows[] = {
    {"ELBSecurityPolicy-TLS13-1-3-2021-06", kTls13, k13, false},
    {"ELBSecurityPolicy-TLS13-1-2-2021-06", kTls12 | kTls13, k13 | kG | kC2, false},
    {"ELBSecurityPolicy-TLS13-1-2-Res-2021-06", kTls12 | kTls13, k13 | kG, false},
    {"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", kTls12 | kTls13, k13 | kG | kC2 | kR2, false},
    {"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", kTls12 | kTls13, kAllGroups, false},
    {"ELBSecurityPolicy-TLS13-1-1-2021-06", kTls11 | kTls12 | kTls13, kAllGroups, false},
    {"ELBSecurityPolicy-TLS13-1-0-2021-06", kAll, kAllGroups, false},
    {"ELBSecurityPolicy-FS-1-2-Res-2020-10", kTls12, kG, false},
    {"ELBSecurityPolicy-FS-1-2-Res-2019-08", kTls12, kG | kC2, false},
    {"ELBSecurityPolicy-FS-1-2-2019-08", kTls12, kG | kC2 | kC1, false},
    {"ELBSecurityPolicy-FS-1-1-2019-08", kTls11 | kTls12, kG | kC2 | kC1, false},
    {"ELBSecurityPolicy-FS-2018-06", k10to12, kG | kC2 | kC1, false},
    {"ELBSecurityPolicy-TLS-1-2-Ext-2018-06", kTls12, kG | kC2 | kC1 | kR2 | kR1, false},
    {"ELBSecurityPolicy-TLS-1-2-2017-01", kTls12, kG | kC2 | kR2, false},
    {"ELBSecurityPolicy-TLS-1-1-2017-01", kTls11 | kTls12, kG | kC2 | kC1 | kR2 | kR1, false},
    {"ELBSecurityPolicy-2016-08", k10to12, kG | kC2 | kC1 | kR2 | kR1, false},
    {"ELBSecurityPolicy-2015-05", k10to12, kG | kC2 | kC1 | kR2 | kR1, false},
    {"ELBSecurityPolicy-TLS-1-0-2015-04", k10to12, kG | kC2 | kC1 | kR2 | kR1 | kD, false},
    {"ELBSecurityPolicy-TLS13-1-3-PQ-2025-09", kTls13, k13, true},
    {"ELBSecurityPolicy-TLS13-1-2-PQ-2025-09", kTls12 | kTls13, k13 | kG | kC2, true},
    {"ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", kTls12 | kTls13, k13 | kG, true},
    {"ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09", kTls12 | kTls13, k13 | kG | kC2 | kR2, true},
    {"ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09", kTls12 | kTls13, kAllGroups, true},
    {"ELBSecurityPolicy-TLS13-1-0-PQ-2025-09", kAll, kAllGroups, true},
};

std::vector<SslPolicy> BuildCatalogue() {
  std::vector<SslPolicy> out;
  out.reserve(std::size(kRows));
  for (const PolicyRow& row : kRows) {
    SslPolicy p;
    p.name = row.name;
    p.versions = row.versions;
    p.post_quantum = row.post_quantum;
    for (const CipherEntry& c : kCipherOrder) {
      if ((c.group & row.groups) != 0) p.ciphers.push_back(c.name);
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

std::span<const SslPolicy> SslPolicies() {
  static const std::vector<SslPolicy> catalogue = BuildCatalogue();
  return catalogue;
}

const SslPolicy* FindSslPolicy(std::string_view name) {
  for (const SslPolicy& p : SslPolicies()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string DescribeVersions(uint8_t versions) {
  static constexpr std::array<std::pair<uint8_t, std::string_view>, 4> kNames = {{
      {kTls10, "TLSv1"},
      {kTls11, "TLSv1.1"},
      {kTls12, "TLSv1.2"},
      {kTls13, "TLSv1.3"},
  }};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((versions & bit) == 0) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace sluice::config
