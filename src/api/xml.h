// The AWS Query protocol's XML responses (reference §9.3, §9.4): a small writer that
// escapes text, and the envelopes every answer uses. Pure; control plane only.
#pragma once

#include <string>
#include <string_view>

#include "api/error.h"

namespace sluice::api {

inline constexpr std::string_view kXmlNamespace =
    "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

// Appends elements to a string. Open/Close must pair; Leaf writes <tag>text</tag>.
class XmlWriter {
 public:
  XmlWriter& Open(std::string_view tag);
  XmlWriter& Close(std::string_view tag);
  XmlWriter& Leaf(std::string_view tag, std::string_view text);
  XmlWriter& Leaf(std::string_view tag, long long value);
  XmlWriter& Bool(std::string_view tag, bool value) { return Leaf(tag, value ? "true" : "false"); }
  // <tag/>: an empty list.
  XmlWriter& Empty(std::string_view tag);
  std::string& str() { return out_; }

 private:
  std::string out_;
};

// Escapes &, <, >, " and ' (and writes characters XML 1.0 forbids, and bytes that are not
// well-formed UTF-8, as U+FFFD).
void AppendXmlEscaped(std::string_view text, std::string* out);

// <Op>Response xmlns=...><Op>Result>{result}</Op>Result><ResponseMetadata>... in the
// service's namespace (elbv2's unless another is given: CloudWatch's, api/cloudwatch.h).
std::string SuccessXml(std::string_view operation, std::string_view result_xml,
                       std::string_view request_id, std::string_view xml_namespace = kXmlNamespace);
// <ErrorResponse xmlns=...><Error><Type>Sender</Type><Code>..</Code><Message>..</Message>
// </Error><RequestId>..</RequestId></ErrorResponse>
std::string ErrorXml(const ApiError& error, std::string_view request_id,
                     std::string_view xml_namespace = kXmlNamespace);

// A random (version 4) UUID, as AWS's request ids.
std::string NewRequestId();

}  // namespace sluice::api
