// HTTP desync classifier. The rules follow aws/http-desync-guardian's request analyzer:
//
//  1. Every header is graded by its characters (CR/LF/NUL anywhere: Severe BadHeader; any other
//     non-RFC character: Acceptable NonCompliantHeader). A blank name, or one starting with ':',
//     is Ambiguous EmptyHeader. A name that is not Transfer-Encoding / Content-Length but has
//     "the same letters" (see CompareName) is Ambiguous SuspiciousHeader and is then treated as
//     that header for the framing checks.
//  2. Framing: TE on HTTP/1.0 or older and CL on HTTP/0.9 are Ambiguous; each TE coding must
//     be a known one; chunked twice is Severe; CL values must be decimal, agree (else Severe)
//     and not repeat (Ambiguous); GET/HEAD with TE or CL > 0 is Ambiguous (CL: 0 Acceptable);
//     TE together with CL is Ambiguous.
//  3. The method must be a token, the version HTTP/1.x (HTTP/0.9 and 1.2+ Acceptable), and the
//     URI free of CTLs (CR/LF/NUL Severe, other CTL Ambiguous, SP Acceptable).
//
// A later finding replaces the verdict only if its tier is strictly higher, so the first reason
// found at the highest tier wins. Everything works on the caller's views; nothing allocates.
#include "http/desync.h"

#include <cstdint>
#include <cstring>

#include "base/ascii.h"

namespace sluice::http {
namespace {

constexpr std::string_view kTransferEncoding = "transfer-encoding";
constexpr std::string_view kContentLength = "content-length";
constexpr std::string_view kHttp09 = "HTTP/0.9";
constexpr std::string_view kHttp10 = "HTTP/1.0";
constexpr std::string_view kHttp1Prefix = "HTTP/1.";

// ---------------------------------------------------------------------------------------------
// Character classes (RFC 7230 §3.2.6, §3.2).

constexpr bool IsAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool IsTchar(unsigned char c) { return IsTokenChar(c); }

// OWS: SP / HTAB.
constexpr bool IsWhitespace(unsigned char c) { return c == ' ' || c == '\t'; }

// Bytes that mean a parser bug or a crafted request wherever they appear: CR, LF, NUL.
constexpr bool IsBadChar(unsigned char c) { return c == '\r' || c == '\n' || c == '\0'; }

// field-vchar / obs-text / OWS.
constexpr bool IsHeaderValueChar(unsigned char c) {
  return (c >= 0x20 && c < 0x7f) || c >= 0x80 || c == '\t';
}

// Anything but CTLs, SP and DEL (obs-text is allowed: IRIs are common).
constexpr bool IsValidUriChar(unsigned char c) { return c > 0x20 && c != 0x7f; }

constexpr unsigned char LowerAscii(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c;
}

unsigned char At(std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); }

// Removes leading and trailing SP/HTAB.
std::string_view TrimOws(std::string_view s) {
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end && IsWhitespace(At(s, begin))) ++begin;
  while (end > begin && IsWhitespace(At(s, end - 1))) --end;
  return s.substr(begin, end - begin);
}

// ---------------------------------------------------------------------------------------------
// Verdict accumulation.

class Verdict {
 public:
  // Records a finding; it replaces the current one only if `tier` is strictly more severe.
  void Raise(DesyncTier tier, DesyncReason reason) {
    if (static_cast<int>(tier) > static_cast<int>(result_.tier)) result_ = {tier, reason};
  }
  DesyncVerdict result() const { return result_; }

 private:
  DesyncVerdict result_;
};

// Per-header character grade. Ordered by severity.
enum class CharGrade { kCompliant = 0, kNonCompliant = 1, kBad = 2 };

// True when no byte of `s` is a CTL other than HTAB, or DEL (8 bytes at a time); the common
// case of a clean value then costs a few instructions per 8 bytes.
bool AllValueChars(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    // A byte < 0x20 (HTAB included; re-checked below) or == 0x7f sets its high bit here.
    uint64_t below_space = (x - kOnes * 0x20) & ~x;
    uint64_t del = x ^ (kOnes * 0x7f);
    uint64_t is_del = (del - kOnes) & ~del;
    if (((below_space | is_del) & kHigh) != 0) return false;
  }
  for (; i < s.size(); ++i) {
    if (!IsHeaderValueChar(At(s, i))) return false;
  }
  return true;
}

// Grades a header name: CR/LF/NUL -> kBad; any other non-tchar -> kNonCompliant.
CharGrade GradeName(std::string_view name) {
  CharGrade grade = CharGrade::kCompliant;
  for (unsigned char c : name) {
    if (IsTchar(c)) continue;
    if (IsBadChar(c)) return CharGrade::kBad;
    grade = CharGrade::kNonCompliant;
  }
  return grade;
}

// Grades a header value: CR/LF/NUL -> kBad; other CTLs and DEL -> kNonCompliant.
CharGrade GradeValue(std::string_view value) {
  if (AllValueChars(value)) return CharGrade::kCompliant;
  CharGrade grade = CharGrade::kCompliant;
  for (unsigned char c : value) {
    if (IsHeaderValueChar(c)) continue;
    if (IsBadChar(c)) return CharGrade::kBad;
    grade = CharGrade::kNonCompliant;
  }
  return grade;
}

// ---------------------------------------------------------------------------------------------
// Header-name similarity ("normalisation" done on the fly, without copying the name).

enum class Similarity {
  kIdentical,    // Equal, ignoring ASCII case.
  kSameLetters,  // Differs only by delimiters, surrounding junk or look-alike characters.
  kDistant,      // Some other header.
};

size_t NextAlnum(std::string_view s, size_t i) {
  while (i < s.size() && !IsAlnum(At(s, i))) ++i;
  return i;
}

// Skips control characters and SP (what some engines drop inside or after a name).
size_t NextNonCtlOrSpace(std::string_view s, size_t i) {
  while (i < s.size() && At(s, i) <= 0x20) ++i;
  return i;
}

// Matches the ASCII letter `want` (lower case) at s[i]. Besides a case-insensitive match, it
// accepts the two UTF-8 letters whose upper case is an ASCII letter of "transfer-encoding" /
// "content-length": U+017F LATIN SMALL LETTER LONG S (C5 BF, upper 'S') and U+0131 LATIN SMALL
// LETTER DOTLESS I (C4 B1, upper 'I'). Sets *next to the index after the matched character
// (or after s[i] on a mismatch).
bool MatchChar(unsigned char want, std::string_view s, size_t i, size_t* next) {
  const unsigned char c = At(s, i);
  *next = i + 1;
  if (LowerAscii(c) == want) return true;
  if (i + 1 < s.size()) {
    const unsigned char c2 = At(s, i + 1);
    if ((want == 's' && c == 0xc5 && c2 == 0xbf) || (want == 'i' && c == 0xc4 && c2 == 0xb1)) {
      *next = i + 2;
      return true;
    }
  }
  return false;
}

// Compares a received header name with `target` (lower-case letters and '-'), the way
// http-desync-guardian does: leading non-alphanumerics are ignored; letters must match in
// order (case-insensitively or by a look-alike) and may be followed by CTLs/SP; a '-' in the
// target consumes one byte of the name, whatever it is, plus any non-alphanumerics after it;
// after the last letter only non-alphanumerics may remain. E.g. for "transfer-encoding":
// "Transfer_Encoding", " Transfer-Encoding\t", "\x01Transfer---Encoding" and "Tranſfer-Encoding"
// are kSameLetters; "X-Transfer-Encoding" and "TransferEncoding" are kDistant.
Similarity CompareName(std::string_view target, std::string_view name) {
  if (name.size() < target.size()) return Similarity::kDistant;
  size_t i = NextAlnum(name, 0);
  bool identical = i == 0 && name.size() == target.size();
  for (char t : target) {
    if (i == name.size()) return Similarity::kDistant;
    const bool delimiter = t == '-';
    size_t next = 0;
    if (!MatchChar(static_cast<unsigned char>(t), name, i, &next)) {
      if (!delimiter) break;  // A letter differs: the rest decides (normally kDistant).
      identical = false;
    }
    i = delimiter ? NextAlnum(name, next) : NextNonCtlOrSpace(name, next);
  }
  if (i == name.size()) return identical ? Similarity::kIdentical : Similarity::kSameLetters;
  return NextAlnum(name, i) == name.size() ? Similarity::kSameLetters : Similarity::kDistant;
}

// What a header means for message framing.
enum class FramingRole { kNone, kTransferEncoding, kContentLength };

struct HeaderAnalysis {
  CharGrade grade = CharGrade::kCompliant;
  bool empty_name = false;  // Blank, or starts with ':' once OWS is removed.
  bool suspicious = false;  // Looks like TE/CL without being it.
  FramingRole role = FramingRole::kNone;
};

// Analyses one header. A header takes part in framing if its name is TE/CL exactly (any
// characters in the value), or suspiciously close to one and neither Bad nor empty.
HeaderAnalysis AnalyzeHeader(const HeaderField& header) {
  HeaderAnalysis a;
  const Similarity te = CompareName(kTransferEncoding, header.name);
  const Similarity cl =
      te == Similarity::kDistant ? CompareName(kContentLength, header.name) : Similarity::kDistant;
  const bool essential = te == Similarity::kIdentical || cl == Similarity::kIdentical;

  const CharGrade name_grade = GradeName(header.name);
  const CharGrade value_grade = GradeValue(header.value);
  a.grade = static_cast<int>(name_grade) > static_cast<int>(value_grade) ? name_grade : value_grade;

  // A name of tchars only has no whitespace to trim (the common case: skip the scan).
  const std::string_view trimmed =
      name_grade == CharGrade::kCompliant ? header.name : TrimOws(header.name);
  if (trimmed.empty() || trimmed.front() == ':') {
    a.empty_name = true;
  } else if (!essential && a.grade != CharGrade::kBad) {
    if (te == Similarity::kSameLetters) {
      a.suspicious = true;
      a.role = FramingRole::kTransferEncoding;
    } else if (cl == Similarity::kSameLetters) {
      a.suspicious = true;
      a.role = FramingRole::kContentLength;
    }
  } else if (te == Similarity::kIdentical) {
    a.role = FramingRole::kTransferEncoding;
  } else if (cl == Similarity::kIdentical) {
    a.role = FramingRole::kContentLength;
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Framing checks.

// Returns true if `item` (one comma-separated element of a TE value, possibly with OWS and
// ";params") names a known coding; sets *chunked if that coding is "chunked".
bool ParseTransferCoding(std::string_view item, bool* chunked) {
  std::string_view coding = TrimOws(item);
  const size_t semicolon = coding.find(';');
  if (semicolon != std::string_view::npos) coding = TrimOws(coding.substr(0, semicolon));
  *chunked = EqualsIgnoreCase(coding, "chunked");
  return *chunked || EqualsIgnoreCase(coding, "compress") || EqualsIgnoreCase(coding, "deflate") ||
         EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "identity");
}

// Checks every coding of every TE header, in order.
void CheckTransferEncodings(std::span<const HeaderField> headers, Verdict* verdict) {
  int chunked_count = 0;
  for (const HeaderField& header : headers) {
    if (AnalyzeHeader(header).role != FramingRole::kTransferEncoding) continue;
    std::string_view rest = header.value;
    while (true) {
      const size_t comma = rest.find(',');
      bool chunked = false;
      if (!ParseTransferCoding(rest.substr(0, comma), &chunked)) {
        verdict->Raise(DesyncTier::kSevere, DesyncReason::kBadTransferEncoding);
      } else if (chunked && ++chunked_count > 1) {
        verdict->Raise(DesyncTier::kSevere, DesyncReason::kMultipleTransferEncodingChunked);
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
}

// Parses a Content-Length value (1*DIGIT with optional OWS around it) without overflow.
bool ParseContentLength(std::string_view value, uint64_t* out) {
  const std::string_view digits = TrimOws(value);
  if (digits.empty()) return false;
  uint64_t n = 0;
  for (unsigned char c : digits) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = c - '0';
    if (n > (UINT64_MAX - d) / 10) return false;
    n = n * 10 + d;
  }
  *out = n;
  return true;
}

// Checks all CL headers in order; returns true and sets *value to the first valid value if any
// CL header parses.
bool CheckContentLengths(std::span<const HeaderField> headers, Verdict* verdict, uint64_t* value) {
  bool have_value = false;
  for (const HeaderField& header : headers) {
    if (AnalyzeHeader(header).role != FramingRole::kContentLength) continue;
    uint64_t n = 0;
    if (!ParseContentLength(header.value, &n)) {
      verdict->Raise(DesyncTier::kSevere, DesyncReason::kBadContentLength);
    } else if (!have_value) {
      have_value = true;
      *value = n;
    } else if (n != *value) {
      verdict->Raise(DesyncTier::kSevere, DesyncReason::kMultipleContentLength);
    } else {
      verdict->Raise(DesyncTier::kAmbiguous, DesyncReason::kDuplicateContentLength);
    }
  }
  return have_value;
}

void CheckFraming(std::string_view method, std::string_view version,
                  std::span<const HeaderField> headers, int te_count, int cl_count,
                  Verdict* verdict) {
  if (te_count == 0 && cl_count == 0) return;
  // Byte-wise comparison as in the reference ("HTTP/0.9" < "HTTP/1.0"; a version with
  // leading OWS also sorts before). Message bodies are undefined before HTTP/1.0 and chunked
  // coding before HTTP/1.1; the rest of the framing checks are then moot.
  if (te_count > 0 && version <= kHttp10) {
    verdict->Raise(DesyncTier::kAmbiguous, DesyncReason::kUndefinedTransferEncodingSemantics);
    return;
  }
  if (cl_count > 0 && version < kHttp10) {
    verdict->Raise(DesyncTier::kAmbiguous, DesyncReason::kUndefinedContentLengthSemantics);
    return;
  }
  const bool has_te = te_count > 0;
  if (has_te) CheckTransferEncodings(headers, verdict);
  uint64_t content_length = 0;
  const bool has_cl = cl_count > 0 && CheckContentLengths(headers, verdict, &content_length);

  // RFC 7231 §4.3: a payload within a GET/HEAD request has no defined semantics.
  if (method == "GET" || method == "HEAD") {
    if (has_te) {
      verdict->Raise(DesyncTier::kAmbiguous, DesyncReason::kUndefinedTransferEncodingSemantics);
    }
    if (has_cl) {
      if (content_length == 0) {
        verdict->Raise(DesyncTier::kAcceptable, DesyncReason::kGetHeadZeroContentLength);
      } else {
        verdict->Raise(DesyncTier::kAmbiguous, DesyncReason::kUndefinedContentLengthSemantics);
      }
    }
  }
  if (has_te && has_cl) verdict->Raise(DesyncTier::kAmbiguous, DesyncReason::kBothTeClPresent);
}

// ---------------------------------------------------------------------------------------------
// Request line.

void CheckMethod(std::string_view method, Verdict* verdict) {
  for (unsigned char c : method) {
    if (!IsTchar(c)) {
      verdict->Raise(DesyncTier::kSevere, DesyncReason::kBadMethod);
      return;
    }
  }
}

// `version` has already had "" mapped to "HTTP/0.9".
void CheckVersion(std::string_view version, Verdict* verdict) {
  const std::string_view trimmed = TrimOws(version);
  if (trimmed == kHttp09) {
    verdict->Raise(DesyncTier::kAcceptable, DesyncReason::kNonCompliantVersion);
    return;
  }
  const bool valid = trimmed.size() == kHttp1Prefix.size() + 1 &&
                     trimmed.starts_with(kHttp1Prefix) && trimmed.back() >= '0' &&
                     trimmed.back() <= '9';
  if (!valid) {
    verdict->Raise(DesyncTier::kSevere, DesyncReason::kBadVersion);
  } else if (trimmed.size() != version.size() || trimmed.back() > '1') {
    // Surrounding whitespace or HTTP/1.2..1.9: harmless but not compliant.
    verdict->Raise(DesyncTier::kAcceptable, DesyncReason::kNonCompliantVersion);
  }
}

void CheckUri(std::string_view uri, Verdict* verdict) {
  for (unsigned char c : uri) {
    if (IsValidUriChar(c)) continue;
    if (IsBadChar(c)) {
      verdict->Raise(DesyncTier::kSevere, DesyncReason::kBadUri);
      return;
    }
    if (c == ' ') {
      verdict->Raise(DesyncTier::kAcceptable, DesyncReason::kSpaceInUri);
    } else {
      verdict->Raise(DesyncTier::kAmbiguous, DesyncReason::kAmbiguousUri);
    }
  }
}

// True for HTTP/2 and later, which have their own framing and are not analysed.
bool IsHttp2OrLater(std::string_view version) {
  return version.size() > 5 && version.starts_with("HTTP/") && version[5] >= '2' &&
         version[5] <= '9';
}

}  // namespace

const char* ToString(DesyncTier tier) {
  switch (tier) {
    case DesyncTier::kCompliant:
      return "Compliant";
    case DesyncTier::kAcceptable:
      return "Acceptable";
    case DesyncTier::kAmbiguous:
      return "Ambiguous";
    case DesyncTier::kSevere:
      return "Severe";
  }
  return "Unknown";
}

const char* ToString(DesyncReason reason) {
  switch (reason) {
    case DesyncReason::kCompliant:
      return "Compliant";
    case DesyncReason::kEmptyHeader:
      return "EmptyHeader";
    case DesyncReason::kSuspiciousHeader:
      return "SuspiciousHeader";
    case DesyncReason::kNonCompliantHeader:
      return "NonCompliantHeader";
    case DesyncReason::kBadHeader:
      return "BadHeader";
    case DesyncReason::kAmbiguousUri:
      return "AmbiguousUri";
    case DesyncReason::kBadUri:
      return "BadUri";
    case DesyncReason::kSpaceInUri:
      return "SpaceInUri";
    case DesyncReason::kNonCompliantVersion:
      return "NonCompliantVersion";
    case DesyncReason::kBadVersion:
      return "BadVersion";
    case DesyncReason::kUndefinedContentLengthSemantics:
      return "UndefinedContentLengthSemantics";
    case DesyncReason::kMultipleContentLength:
      return "MultipleContentLength";
    case DesyncReason::kDuplicateContentLength:
      return "DuplicateContentLength";
    case DesyncReason::kBadContentLength:
      return "BadContentLength";
    case DesyncReason::kUndefinedTransferEncodingSemantics:
      return "UndefinedTransferEncodingSemantics";
    case DesyncReason::kMultipleTransferEncodingChunked:
      return "MultipleTransferEncodingChunked";
    case DesyncReason::kBadTransferEncoding:
      return "BadTransferEncoding";
    case DesyncReason::kBothTeClPresent:
      return "BothTeClPresent";
    case DesyncReason::kGetHeadZeroContentLength:
      return "GetHeadZeroContentLength";
    case DesyncReason::kBadMethod:
      return "BadMethod";
    case DesyncReason::kNonCrLfLineTermination:
      return "NonCrLfLineTermination";
    case DesyncReason::kMultilineHeader:
      return "MultilineHeader";
    case DesyncReason::kMissingHeaderColon:
      return "MissingHeaderColon";
  }
  return "Unknown";
}

bool IsFramingFieldName(std::string_view name) {
  return CompareName(kTransferEncoding, name) != Similarity::kDistant ||
         CompareName(kContentLength, name) != Similarity::kDistant;
}

DesyncVerdict ClassifyRequest(std::string_view method, std::string_view uri,
                              std::string_view version, std::span<const HeaderField> headers) {
  if (IsHttp2OrLater(version)) return {};
  if (TrimOws(version).empty()) version = kHttp09;

  Verdict verdict;
  int te_count = 0;
  int cl_count = 0;
  for (const HeaderField& header : headers) {
    const HeaderAnalysis a = AnalyzeHeader(header);
    if (a.grade == CharGrade::kBad) {
      verdict.Raise(DesyncTier::kSevere, DesyncReason::kBadHeader);
    } else if (a.grade == CharGrade::kNonCompliant) {
      verdict.Raise(DesyncTier::kAcceptable, DesyncReason::kNonCompliantHeader);
    }
    if (a.empty_name) verdict.Raise(DesyncTier::kAmbiguous, DesyncReason::kEmptyHeader);
    if (a.suspicious) verdict.Raise(DesyncTier::kAmbiguous, DesyncReason::kSuspiciousHeader);
    if (a.role == FramingRole::kTransferEncoding) ++te_count;
    if (a.role == FramingRole::kContentLength) ++cl_count;
  }
  CheckFraming(method, version, headers, te_count, cl_count, &verdict);
  CheckMethod(method, &verdict);
  CheckVersion(version, &verdict);
  CheckUri(uri, &verdict);
  return verdict.result();
}

}  // namespace sluice::http
