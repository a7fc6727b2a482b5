#include "api/xml.h"

#include <openssl/rand.h>

#include <atomic>
#include <chrono>
#include <cstdio>

namespace sluice::api {

void AppendXmlEscaped(std::string_view text, std::string* out) {
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
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
                       std::string_view request_id) {
  std::string out;
  out.reserve(result_xml.size() + 256);
  out.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
  out.append(operation).append("Response xmlns=\"").append(kXmlNamespace).append("\">");
  out.append("<").append(operation).append("Result>");
  out.append(result_xml);
  out.append("</").append(operation).append("Result>");
  out.append("<ResponseMetadata><RequestId>").append(request_id);
  out.append("</RequestId></ResponseMetadata></").append(operation).append("Response>\n");
  return out;
}

std::string ErrorXml(const ApiError& error, std::string_view request_id) {
  XmlWriter w;
  w.str().append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"");
  w.str().append(kXmlNamespace).append("\">");
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
