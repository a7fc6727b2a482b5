#include "api/query.h"

#include <gtest/gtest.h>

#include "api/xml.h"

namespace sluice::api {
namespace {

TEST(QueryParams, DecodesEscapesAndPlus) {
  auto p = QueryParams::Parse("Action=Describe%20It&Names.member.1=a+b&Empty=&Flag");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p.value().Get("Action"), "Describe It");
  EXPECT_EQ(*p.value().Get("Names.member.1"), "a b");
  EXPECT_EQ(*p.value().Get("Empty"), "");
  EXPECT_EQ(*p.value().Get("Flag"), "");
  EXPECT_EQ(p.value().Get("Missing"), nullptr);
}

TEST(QueryParams, MalformedEscapeIsMalformedQueryString) {
  for (const char* bad : {"A=%", "A=%4", "A=%zz", "%g1=b"}) {
    auto p = QueryParams::Parse(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().code, "MalformedQueryString") << bad;
  }
}

TEST(QueryParams, ListsInIndexOrderAndEmptyList) {
  auto p = QueryParams::Parse(
      "Names.member.10=j&Names.member.2=b&Names.member.1=a&Other.member.1=x&AlpnPolicy=");
  ASSERT_TRUE(p.ok());
  auto names = p.value().List("Names");
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "j"}));
  EXPECT_FALSE(p.value().List("Absent").has_value());
  auto empty = p.value().List("AlpnPolicy");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST(QueryParams, MemberIndexMustBeADecimalWithoutLeadingZero) {
  auto p = QueryParams::Parse("N.member.01=a&N.member.x=b&N.member.=c&N.member.3=d");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p.value().List("N"), (std::vector<std::string>{"d"}));
}

TEST(QueryParams, StructListsAndStructs) {
  auto p = QueryParams::Parse(
      "Targets.member.1.Id=10.0.0.1&Targets.member.1.Port=80&Targets.member.2.Id=10.0.0.2&"
      "Matcher.HttpCode=200-299&Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight=5");
  ASSERT_TRUE(p.ok());
  auto targets = p.value().StructList("Targets");
  ASSERT_TRUE(targets.has_value());
  ASSERT_EQ(targets->size(), 2u);
  EXPECT_EQ(*(*targets)[0].Get("Id"), "10.0.0.1");
  EXPECT_EQ(*(*targets)[0].Get("Port"), "80");
  EXPECT_EQ((*targets)[1].Get("Port"), nullptr);
  EXPECT_EQ(*p.value().Struct("Matcher").Get("HttpCode"), "200-299");
  auto actions = p.value().StructList("Actions");
  ASSERT_EQ(actions->size(), 1u);
  auto tgs = (*actions)[0].Struct("ForwardConfig").StructList("TargetGroups");
  ASSERT_EQ(tgs->size(), 1u);
  EXPECT_EQ(*(*tgs)[0].Get("Weight"), "5");
  EXPECT_TRUE(p.value().HasAny("Actions"));
  EXPECT_FALSE(p.value().HasAny("Action"));
}

// Found by tests/fuzz/api_query: a name that sorts between "Conditions" and "Conditions."
// ('-' and the other bytes below '.') hid the members, so ModifyRule ignored the Conditions
// (and Actions) it was sent and answered success, even on a default rule.
TEST(QueryParams, HasAnyLooksPastNamesThatSortBeforeTheDot) {
  auto p = QueryParams::Parse(
      "Conditions-x=1&Conditions%21=2&Conditions.member.1.Field=path-pattern&Actions+=3");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.value().HasAny("Conditions"));
  EXPECT_TRUE(p.value().HasAny("Conditions-x"));
  EXPECT_FALSE(p.value().HasAny("Actions"));
  EXPECT_FALSE(p.value().HasAny("Condition"));
  EXPECT_FALSE(p.value().HasAny("Conditions.member.1.Field.x"));
}

TEST(QueryParams, TooManyParametersIsRefused) {
  std::string form;
  for (size_t i = 0; i <= kMaxParameters; ++i) form += "p" + std::to_string(i) + "=1&";
  auto p = QueryParams::Parse(form);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, "ValidationError");
}

TEST(QueryParams, MergeMissingKeepsBodyValues) {
  auto body = QueryParams::Parse("Action=A&X=body");
  auto query = QueryParams::Parse("X=query&Y=query");
  body.value().MergeMissing(query.value());
  EXPECT_EQ(*body.value().Get("X"), "body");
  EXPECT_EQ(*body.value().Get("Y"), "query");
}

TEST(Xml, EscapesTextAndForbiddenCharacters) {
  XmlWriter w;
  w.Leaf("M", std::string("a<b>&\"'\x01\n", 9));
  EXPECT_EQ(w.str(), "<M>a&lt;b&gt;&amp;&quot;&apos;\xEF\xBF\xBD\n</M>");
}

// Found by tests/fuzz/api_request: a caller's bytes that are not UTF-8 (an unknown Version,
// a name in a NotFound message) went into the document as they were, and XML parsers
// (botocore's) refuse such a document. Each byte that starts no well-formed sequence of an
// XML character becomes U+FFFD; well-formed characters are kept.
TEST(Xml, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  constexpr std::string_view kR = "\xEF\xBF\xBD";
  XmlWriter w;
  w.Leaf("M",
         "a\xFF"
         "b\xC3\xA9"          // é: kept
         "\xE2\x82"           // cut short by the 'c'
         "c\xF0\x9F\x98\x80"  // U+1F600: kept
         "\xED\xA0\x80"       // a surrogate
         "\xC0\xAF"           // an overlong '/'
         "\xEF\xBF\xBE");     // U+FFFE, not an XML character
  std::string r(kR);
  EXPECT_EQ(w.str(), "<M>a" + r + "b\xC3\xA9" + r + r + "c\xF0\x9F\x98\x80" + r + r + r + r + r +
                         r + r + r + "</M>");
  std::string xml = ErrorXml(SenderError("InvalidAction", "version 2015-1\xCB-01"), "rid");
  EXPECT_NE(xml.find("version 2015-1" + r + "-01"), std::string::npos) << xml;
}

TEST(Xml, ErrorResponseShape) {
  std::string xml = ErrorXml(SenderError("LoadBalancerNotFound", "One or more <x>"), "rid-1");
  EXPECT_NE(xml.find("<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/"
                     "2015-12-01/\"><Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code>"
                     "<Message>One or more &lt;x&gt;</Message></Error><RequestId>rid-1</RequestId>"
                     "</ErrorResponse>"),
            std::string::npos)
      << xml;
  std::string ok = SuccessXml("RegisterTargets", "", "rid-2");
  EXPECT_NE(ok.find("<RegisterTargetsResponse xmlns=\""), std::string::npos);
  EXPECT_NE(ok.find("<RegisterTargetsResult></RegisterTargetsResult><ResponseMetadata>"
                    "<RequestId>rid-2</RequestId></ResponseMetadata></RegisterTargetsResponse>"),
            std::string::npos);
}

TEST(Xml, RequestIdsAreVersion4Uuids) {
  std::string a = NewRequestId();
  std::string b = NewRequestId();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

}  // namespace
}  // namespace sluice::api
