#include "api/xml.h"

#include <openssl/rand.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>

namespace sluice::api {
namespace {

// The length of the well-formed UTF-8 sequence of a character XML 1.0 allows at text[i]
// (whose byte is 0x80 or more): 2 to 4, or 0 for a byte that starts none (a stray continuation
// byte, an overlong form, a surrogate, a value above U+10FFFF, a cut sequence, U+FFFE, U+FFFF).
size_t Utf8Length(std::string_view text, size_t i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  size_t n = c >= 0xC2 && c <= 0xDF ? 2 : (c & 0xF0) == 0xE0 ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (n == 0 || text.size() - i < n) return 0;
  uint32_t cp = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    unsigned char d = static_cast<unsigned char>(text[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) return 0;
  return n;
}

}  // namespace

void AppendXmlEscaped(std::string_view text, std::string* out) {
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      // The document says UTF-8: a byte that is not part of a character is written as U+FFFD
      // (the caller's bytes reach messages, e.g. an unknown Version), or parsers refuse it.
      size_t n = Utf8Length(text, i);
      if (n == 0) {
        out->append("\xEF\xBF\xBD");
      } else {
        out->append(text.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '&':
        out->append("&amp;");
        break;
      case '<':
        out->append("&lt;");
        break;
      case '>':
        out->append("&gt;");
        break;
      case '"':
        out->append("&quot;");
        break;
      case '\'':
        out->append("&apos;");
        break;
      case '\r':
        out->append("&#13;");
        break;
      default:
        // XML 1.0 allows tab and newline among the control characters, nothing else.
        if (c < 0x20 && c != '\t' && c != '\n') {
          out->append("\xEF\xBF\xBD");
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
}

XmlWriter& XmlWriter::Open(std::string_view tag) {
  out_.push_back('<');
  out_.append(tag);
  out_.push_back('>');
  return *this;
}

XmlWriter& XmlWriter::Close(std::string_view tag) {
  out_.append("</");
  out_.append(tag);
  out_.push_back('>');
  return *this;
}

XmlWriter& XmlWriter::Leaf(std::string_view tag, std::string_view text) {
  Open(tag);
  AppendXmlEscaped(text, &out_);
  return Close(tag);
}

XmlWriter& XmlWriter::Leaf(std::string_view tag, long long value) {
  return Leaf(tag, std::to_string(value));
}

XmlWriter& XmlWriter::Empty(std::string_view tag) {
  out_.push_back('<');
  out_.append(tag);
  out_.append("/>");
  return *this;
}

std::string SuccessXml(std::string_view operation, std::string_view result_xml,
                       std::string_view request_id, std::string_view xml_namespace) {
  std::string out;
  out.reserve(result_xml.size() + 256);
  out.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
  out.append(operation).append("Response xmlns=\"").append(xml_namespace).append("\">");
  out.append("<").append(operation).append("Result>");
  out.append(result_xml);
  out.append("</").append(operation).append("Result>");
  out.append("<ResponseMetadata><RequestId>").append(request_id);
  out.append("</RequestId></ResponseMetadata></").append(operation).append("Response>\n");
  return out;
}

std::string ErrorXml(const ApiError& error, std::string_view request_id,
                     std::string_view xml_namespace) {
  XmlWriter w;
  w.str().append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"");
  w.str().append(xml_namespace).append("\">");
  w.Open("Error")
      .Leaf("Type", error.sender ? "Sender" : "Receiver")
      .Leaf("Code", error.code)
      .Leaf("Message", error.message)
      .Close("Error");
  w.Leaf("RequestId", request_id);
  w.str().append("</ErrorResponse>\n");
  return std::move(w.str());
}

std::string NewRequestId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    // No randomness: a counter still gives distinct ids within the process.
    static std::atomic<uint64_t> counter{0};
    uint64_t n = ++counter ^
                 static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (int i = 0; i < 16; ++i) b[i] = static_cast<unsigned char>(n >> ((i % 8) * 8));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

}  // namespace sluice::api
