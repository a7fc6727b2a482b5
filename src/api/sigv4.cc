// SigV4 canonical forms, key derivation and the signer; the verifier is in sigv4_verify.cc.
#include "api/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <climits>

#include "api/sigv4_internal.h"

namespace sluice::api {
namespace {

using sigv4_internal::kTerminator;
using Digest = std::array<unsigned char, 32>;

// ---- Crypto (every OpenSSL result checked) ----

bool Sha256(std::string_view data, Digest& out) {
  unsigned int len = 0;
  return EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) == 1 &&
         len == out.size();
}

bool HmacSha256(std::string_view key, std::string_view msg, Digest& out) {
  if (key.size() > static_cast<size_t>(INT_MAX)) return false;
  unsigned int len = 0;
  const unsigned char* r =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len);
  return r != nullptr && len == out.size();
}

std::string_view View(const Digest& d) {
  return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// The signing key; intermediate keys and the "AWS4"+secret buffer are wiped.
bool DeriveSigningKey(std::string_view secret, std::string_view date, std::string_view region,
                      std::string_view service, Digest& key) {
  std::string seed;
  seed.reserve(4 + secret.size());  // one buffer, so the cleanse below reaches every copy
  seed.append("AWS4").append(secret);
  Digest k_date{}, k_region{}, k_service{};
  bool ok = HmacSha256(seed, date, k_date) && HmacSha256(View(k_date), region, k_region) &&
            HmacSha256(View(k_region), service, k_service) &&
            HmacSha256(View(k_service), kTerminator, key);
  OPENSSL_cleanse(seed.data(), seed.size());
  OPENSSL_cleanse(k_date.data(), k_date.size());
  OPENSSL_cleanse(k_region.data(), k_region.size());
  OPENSSL_cleanse(k_service.data(), k_service.size());
  return ok;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Trimall: trimmed, each run of spaces and tabs made one space.
void AppendTrimAll(std::string& out, std::string_view value) {
  value = sigv4_internal::Trim(value);
  bool in_space = false;
  for (char c : value) {
    if (IsSpace(c)) {
      in_space = true;
      continue;
    }
    if (in_space) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX and '+' (a space); nullopt on a malformed escape.
std::optional<std::string> Decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] != '%') {
      out.push_back(s[i]);
    } else {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

std::string CanonicalQuery(const sigv4_internal::QueryParams& params, bool drop_signature) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params) {
    if (drop_signature && name == "X-Amz-Signature") continue;
    encoded.emplace_back(SigV4UriEncode(name, false), SigV4UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out.append(name).append("=").append(value);
  }
  return out;
}

// The signed header list of the signer: every header name of req, lowercased, sorted, unique.
std::string SignedHeaderList(const SignedRequest& req) {
  std::vector<std::string> names;
  for (const auto& header : req.headers) {
    std::string name(header.first);
    for (char& c : name) c = Lower(c);
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string list;
  for (const std::string& name : names) {
    if (!list.empty()) list.push_back(';');
    list.append(name);
  }
  return list;
}

// The signature of `req` for the signer ("" on failure).
std::string SignForClient(const SignedRequest& req, std::string_view signed_headers, bool presigned,
                          std::string_view secret, std::string_view scope,
                          std::string_view amz_date) {
  std::vector<std::string_view> parts = sigv4_internal::Split(scope, '/');
  // As botocore: an x-amz-content-sha256 header is the payload hash (e.g. UNSIGNED-PAYLOAD).
  std::optional<std::string> claimed = sigv4_internal::HeaderValue(req, "x-amz-content-sha256");
  std::string payload = claimed ? std::move(*claimed) : Sha256Hex(req.body);
  if (parts.size() != 4 || payload.empty()) return std::string();
  ApiResult<std::string> canonical = CanonicalRequest(req, signed_headers, payload, presigned);
  if (!canonical.ok()) return std::string();
  std::string sts = StringToSign(amz_date, scope, canonical.value());
  if (sts.empty()) return std::string();
  return SignatureHex(secret, parts[0], parts[1], parts[2], sts);
}

std::string ScopeOf(std::string_view amz_date, std::string_view region, std::string_view service) {
  std::string scope(amz_date.substr(0, 8));
  scope.append("/").append(region).append("/").append(service).append("/").append(kTerminator);
  return scope;
}

}  // namespace

// ---- Helpers shared with the verifier ----

namespace sigv4_internal {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

std::optional<std::string> HeaderValue(const SignedRequest& req, std::string_view name) {
  std::optional<std::string> value;
  for (const auto& [n, v] : req.headers) {
    if (!EqualsIgnoreCase(n, name)) continue;
    if (value) {
      value->push_back(',');
    } else {
      value.emplace();
    }
    AppendTrimAll(*value, v);
  }
  return value;
}

bool ListContains(std::string_view signed_headers, std::string_view name) {
  for (std::string_view n : Split(signed_headers, ';')) {
    if (EqualsIgnoreCase(n, name)) return true;
  }
  return false;
}

ApiResult<QueryParams> ParseQuery(std::string_view raw) {
  QueryParams params;
  if (raw.empty()) return params;
  for (std::string_view piece : Split(raw, '&')) {
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    std::optional<std::string> name = Decode(piece.substr(0, eq));
    std::optional<std::string> value =
        Decode(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1));
    if (!name || !value) {
      return SenderError("MalformedQueryString", "The query string contains a syntax error.", 404);
    }
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

}  // namespace sigv4_internal

// ---- Public building blocks ----

std::string Sha256Hex(std::string_view data) {
  Digest d{};
  return Sha256(data, d) ? Hex(View(d)) : std::string();
}

std::string SigV4UriEncode(std::string_view bytes, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

std::string CanonicalUri(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  for (std::string_view seg : sigv4_internal::Split(path, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
      continue;
    }
    segments.push_back(seg);
  }
  std::string normal = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) normal.push_back('/');
    normal.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) normal.push_back('/');
  return SigV4UriEncode(normal, true);
}

ApiResult<std::string> CanonicalQueryString(std::string_view raw_query, bool drop_signature) {
  ApiResult<sigv4_internal::QueryParams> params = sigv4_internal::ParseQuery(raw_query);
  if (!params.ok()) return params.error();
  return CanonicalQuery(params.value(), drop_signature);
}

ApiResult<std::string> CanonicalRequest(const SignedRequest& req, std::string_view signed_headers,
                                        std::string_view payload_hash, bool presigned) {
  ApiResult<std::string> query = CanonicalQueryString(req.query, presigned);
  if (!query.ok()) return query.error();
  std::string out;
  out.append(req.method).append("\n");
  out.append(CanonicalUri(req.path)).append("\n");
  out.append(query.value()).append("\n");
  for (std::string_view name : sigv4_internal::Split(signed_headers, ';')) {
    std::optional<std::string> value = sigv4_internal::HeaderValue(req, name);
    if (!value) return sigv4_internal::MismatchError(std::string(sigv4_internal::kMismatchMessage));
    out.append(name).append(":").append(*value).append("\n");
  }
  out.append("\n").append(signed_headers).append("\n").append(payload_hash);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string hash = Sha256Hex(canonical_request);
  if (hash.empty()) return std::string();
  std::string out(kSigV4Algorithm);
  out.append("\n").append(amz_date).append("\n").append(scope).append("\n").append(hash);
  return out;
}

std::string SigningKeyHex(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service) {
  Digest key{};
  std::string hex = DeriveSigningKey(secret, date, region, service, key) ? Hex(View(key)) : "";
  OPENSSL_cleanse(key.data(), key.size());
  return hex;
}

std::string SignatureHex(std::string_view secret, std::string_view date, std::string_view region,
                         std::string_view service, std::string_view string_to_sign) {
  Digest key{}, sig{};
  bool ok = DeriveSigningKey(secret, date, region, service, key) &&
            HmacSha256(View(key), string_to_sign, sig);
  OPENSSL_cleanse(key.data(), key.size());
  return ok ? Hex(View(sig)) : std::string();
}

// ---- Signer ----

std::string SignAuthorizationHeader(const SignedRequest& req, std::string_view access_key_id,
                                    std::string_view secret, std::string_view region,
                                    std::string_view service, std::string_view amz_date) {
  if (amz_date.size() < 8) return std::string();
  std::string signed_headers = SignedHeaderList(req);
  std::string scope = ScopeOf(amz_date, region, service);
  std::string signature = SignForClient(req, signed_headers, false, secret, scope, amz_date);
  if (signature.empty()) return std::string();
  std::string out(kSigV4Algorithm);
  out.append(" Credential=").append(access_key_id).append("/").append(scope);
  out.append(", SignedHeaders=").append(signed_headers);
  out.append(", Signature=").append(signature);
  return out;
}

std::string PresignQuery(const SignedRequest& req, std::string_view access_key_id,
                         std::string_view secret, std::string_view region, std::string_view service,
                         std::string_view amz_date, int64_t expires_seconds) {
  if (amz_date.size() < 8) return std::string();
  std::string signed_headers = SignedHeaderList(req);
  std::string scope = ScopeOf(amz_date, region, service);
  std::string credential(access_key_id);
  credential.append("/").append(scope);
  std::string query(req.query);
  if (!query.empty()) query.push_back('&');
  query.append("X-Amz-Algorithm=").append(kSigV4Algorithm);
  query.append("&X-Amz-Credential=").append(SigV4UriEncode(credential, false));
  query.append("&X-Amz-Date=").append(SigV4UriEncode(amz_date, false));
  query.append("&X-Amz-Expires=").append(std::to_string(expires_seconds));
  query.append("&X-Amz-SignedHeaders=").append(SigV4UriEncode(signed_headers, false));
  SignedRequest presigned = req;
  presigned.query = query;
  std::string signature = SignForClient(presigned, signed_headers, true, secret, scope, amz_date);
  if (signature.empty()) return std::string();
  return query.append("&X-Amz-Signature=").append(signature);
}

}  // namespace sluice::api
