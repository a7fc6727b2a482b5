#include "api/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/policy_values.h"

namespace sluice::api {
namespace {

using ::testing::HasSubstr;

constexpr Decision kAllow = Decision::kAllow;
constexpr Decision kExplicit = Decision::kExplicitDeny;
constexpr Decision kImplicit = Decision::kImplicitDeny;

constexpr int64_t kNow = 1767268800;  // 2026-01-01T12:00:00Z
constexpr const char* kHomeIp = "203.0.113.5";

constexpr const char* kDescribeTg = "elasticloadbalancing:DescribeTargetGroups";
constexpr const char* kDescribeHealth = "elasticloadbalancing:DescribeTargetHealth";
constexpr const char* kRegister = "elasticloadbalancing:RegisterTargets";
constexpr const char* kDeleteLb = "elasticloadbalancing:DeleteLoadBalancer";

const std::string kBlue =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue-web/50dc6c495c0c9188";
const std::string kBlueEu =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/blue-api/73e2d6bc24d8a067";
const std::string kGreen =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green-web/6d0ecf831eec9f09";
const std::string kLb =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/edge/50dc6c495c0c9188";

// Resource tags: blue is prod/web, green is staging, the EU group is "Prod", the LB untagged.
std::optional<std::string> Tag(std::string_view arn, std::string_view key) {
  static const auto* tags = new std::map<std::string, std::map<std::string, std::string>>{
      {kBlue, {{"env", "prod"}, {"team", "web"}}},
      {kGreen, {{"env", "staging"}}},
      {kBlueEu, {{"env", "Prod"}}},
  };
  auto r = tags->find(std::string(arn));
  if (r == tags->end()) return std::nullopt;
  auto t = r->second.find(std::string(key));
  if (t == r->second.end()) return std::nullopt;
  return t->second;
}

// ---- Policies under test ----

// Allow everything, with one condition block (operator and key-values JSON).
std::string AllowIf(const std::string& condition) {
  return R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",)"
         R"("Condition":)" +
         condition + "}}";
}
// Allow everything, but deny everything under one condition block.
std::string DenyIf(const std::string& condition) {
  return R"({"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},)"
         R"({"Effect":"Deny","Action":"*","Resource":"*","Condition":)" +
         condition + "}]}";
}

const std::string kMixedCase =
    R"({"Statement":[{"Effect":"Allow","Action":"ElasticLoadBalancing:describe*","Resource":"*"}]})";
const std::string kQuestionAction =
    R"({"Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:Describe?argetGroups",)"
    R"("Resource":"*"}]})";
const std::string kStarAction = R"({"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
const std::string kOtherService =
    R"({"Statement":[{"Effect":"Allow","Action":["s3:*","ec2:Describe*"],"Resource":"*"}]})";
const std::string kNotAction =
    R"({"Statement":[{"Effect":"Allow","NotAction":["elasticloadbalancing:Delete*",)"
    R"("elasticloadbalancing:Remove*"],"Resource":"*"}]})";
const std::string kBlueOnly =
    R"({"Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:*",)"
    R"("Resource":"arn:aws:elasticloadbalancing:*:*:targetgroup/blue-*"}]})";
const std::string kBlueUpper =
    R"({"Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:*",)"
    R"("Resource":"arn:aws:elasticloadbalancing:*:*:targetgroup/BLUE-*"}]})";
const std::string kFourLetterWeb =
    R"({"Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":)"
    R"("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/????-web/*"}]})";
const std::string kNotLb = R"({"Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:*",)"
                           R"("NotResource":"arn:aws:elasticloadbalancing:*:*:loadbalancer/*"}]})";
const std::string kNoDeletes =
    R"({"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},)"
    R"({"Sid":"NoDeletes","Effect":"Deny","Action":"elasticloadbalancing:delete*","Resource":"*"}]})";
const std::string kDenyGreen =
    R"({"Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":"*"},)"
    R"({"Effect":"Deny","Action":"elasticloadbalancing:*",)"
    R"("Resource":"arn:aws:elasticloadbalancing:*:*:targetgroup/green-*"}]})";
const std::string kDenyAll = R"({"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}})";
// Deny first, allow second: order does not matter.
const std::string kDenyThenAllow =
    R"({"Statement":[{"Effect":"Deny","Action":"elasticloadbalancing:RegisterTargets",)"
    R"("Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]})";

const std::string kCorpV4 =
    AllowIf(R"({"IpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.7"]}})");
const std::string kCorpV6 = AllowIf(R"({"IpAddress":{"aws:SourceIp":"2001:db8:42::/48"}})");
const std::string kCorpUpperKey = AllowIf(R"({"IpAddress":{"AWS:SOURCEIP":"203.0.113.0/24"}})");
const std::string kDenyOutsideCorp =
    DenyIf(R"({"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","fd00::/8"]}})");
const std::string kIpIfExists = AllowIf(R"({"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}})");

const std::string kYear2026 =
    AllowIf(R"({"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},)"
            R"("DateLessThan":{"aws:CurrentTime":"2026-12-31T23:59:59Z"}})");
const std::string kUntilEpoch = AllowIf(R"({"DateLessThanEquals":{"aws:EpochTime":"1767225600"}})");
const std::string kFromEpochValue =
    AllowIf(R"({"DateGreaterThanEquals":{"aws:CurrentTime":"1767225600"}})");
const std::string kBeforeOffset =  // 13:00 at +02:00 is 11:00Z
    AllowIf(R"({"DateLessThan":{"aws:CurrentTime":"2026-01-01T13:00:00+02:00"}})");
const std::string kNumericEpoch = AllowIf(R"({"NumericLessThan":{"aws:EpochTime":1767225600}})");

const std::string kRegisterProd =
    R"({"Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:RegisterTargets",)"
    R"("Resource":"*","Condition":{"StringEquals":)"
    R"({"elasticloadbalancing:ResourceTag/env":"prod"}}}]})";
const std::string kProdIgnoreCase =
    AllowIf(R"({"StringEqualsIgnoreCase":{"aws:ResourceTag/env":"PROD"}})");
const std::string kProdOrStaging =
    AllowIf(R"({"StringEquals":{"aws:ResourceTag/env":["prod","staging"]}})");
const std::string kTeamLike = AllowIf(R"({"StringLike":{"aws:ResourceTag/team":"w?b*"}})");
const std::string kProdAndWeb =  // keys within one operator are ANDed
    AllowIf(R"({"StringEquals":{"aws:ResourceTag/env":"prod","aws:ResourceTag/team":"web"}})");
const std::string kDenyUnlessProd = DenyIf(R"({"StringNotEquals":{"aws:ResourceTag/env":"prod"}})");
const std::string kDenyUnlessProdOrStaging =  // negated values are NORed
    DenyIf(R"({"StringNotEquals":{"aws:ResourceTag/env":["prod","staging"]}})");
const std::string kProdIfExists =
    AllowIf(R"({"StringEqualsIfExists":{"aws:ResourceTag/env":"prod"}})");
const std::string kUntagged = AllowIf(R"({"Null":{"aws:ResourceTag/env":"true"}})");
const std::string kTagged = AllowIf(R"({"Null":{"aws:ResourceTag/env":"false"}})");
const std::string kDenyUntagged = DenyIf(R"({"Null":{"aws:ResourceTag/env":"true"}})");
const std::string kUnknownKey = AllowIf(R"({"StringEquals":{"aws:PrincipalTag/team":"web"}})");
const std::string kUnknownKeyNegated =
    AllowIf(R"({"StringNotEquals":{"aws:PrincipalTag/team":"web"}})");
const std::string kSecureTransport = AllowIf(R"({"Bool":{"aws:SecureTransport":true}})");

// ---- Decision table ----

struct DecisionCase {
  const char* name;
  std::string policy;  // a document, or "admin" / "read-only"
  const char* action;
  std::vector<std::string> resources;
  Decision want;
  std::string source_ip = kHomeIp;
  int64_t now = kNow;
};

std::ostream& operator<<(std::ostream& os, const DecisionCase& c) { return os << c.name; }

const std::vector<DecisionCase>& DecisionCases() {
  static const auto* cases = new std::vector<DecisionCase>{
      // Built-ins.
      {"AdminDescribe", "admin", kDescribeTg, {}, kAllow},
      {"AdminRegister", "admin", kRegister, {kBlue}, kAllow},
      {"AdminOtherService", "admin", "s3:GetObject", {}, kImplicit},
      {"ReadOnlyDescribe", "read-only", kDescribeTg, {}, kAllow},
      {"ReadOnlyDescribeOne", "read-only", kDescribeHealth, {kBlue}, kAllow},
      {"ReadOnlyRegister", "read-only", kRegister, {kBlue}, kImplicit},
      {"ReadOnlyDelete", "read-only", kDeleteLb, {kLb}, kImplicit},
      // Actions: wildcards, case, NotAction.
      {"MixedCaseAction", kMixedCase, kDescribeTg, {}, kAllow},
      {"MixedCaseActionUpperRequest",
       kMixedCase,
       "ELASTICLOADBALANCING:DESCRIBETARGETGROUPS",
       {},
       kAllow},
      {"MixedCaseActionNoMatch", kMixedCase, kRegister, {}, kImplicit},
      {"QuestionMarkAction", kQuestionAction, kDescribeTg, {}, kAllow},
      {"QuestionMarkIsOneChar", kQuestionAction, kDescribeHealth, {}, kImplicit},
      {"StarAction", kStarAction, kDeleteLb, {kLb}, kAllow},
      {"OtherServiceOnly", kOtherService, kDescribeTg, {}, kImplicit},
      {"NotActionAllowsOthers", kNotAction, kRegister, {kBlue}, kAllow},
      {"NotActionExcludesDelete", kNotAction, kDeleteLb, {kLb}, kImplicit},
      {"NotActionExcludesRemove", kNotAction, "elasticloadbalancing:RemoveTags", {kLb}, kImplicit},
      // Resources: wildcards across ':' and '/', case, NotResource.
      {"BlueWildcard", kBlueOnly, kRegister, {kBlue}, kAllow},
      {"BlueWildcardOtherRegion", kBlueOnly, kRegister, {kBlueEu}, kAllow},
      {"BlueWildcardGreen", kBlueOnly, kRegister, {kGreen}, kImplicit},
      {"BlueWildcardLb", kBlueOnly, kDeleteLb, {kLb}, kImplicit},
      {"BlueWildcardAllResources", kBlueOnly, kDescribeTg, {}, kImplicit},
      {"ResourceIsCaseSensitive", kBlueUpper, kRegister, {kBlue}, kImplicit},
      {"ResourceQuestionMarks", kFourLetterWeb, kRegister, {kBlue}, kAllow},
      {"ResourceQuestionMarksTooLong", kFourLetterWeb, kRegister, {kGreen}, kImplicit},
      {"NotResourceOther", kNotLb, kRegister, {kGreen}, kAllow},
      {"NotResourceExcluded", kNotLb, kDeleteLb, {kLb}, kImplicit},
      {"NotResourceAllResources", kNotLb, kDescribeTg, {}, kAllow},
      // Explicit deny beats allow; several resources.
      {"DenyBeatsAllow", kNoDeletes, kDeleteLb, {kLb}, kExplicit},
      {"DenyElsewhereAllows", kNoDeletes, kDescribeTg, {}, kAllow},
      {"DenyFirstStillWins", kDenyThenAllow, kRegister, {kBlue}, kExplicit},
      {"DenyFirstOtherAction", kDenyThenAllow, kDescribeTg, {}, kAllow},
      {"DenyAll", kDenyAll, kDescribeTg, {}, kExplicit},
      {"NoStatementMatches", kOtherService, kRegister, {kBlue}, kImplicit},
      {"MultiAllAllowed", kDenyGreen, kRegister, {kBlue, kBlueEu}, kAllow},
      {"MultiOneDenied", kDenyGreen, kRegister, {kBlue, kGreen}, kExplicit},
      {"MultiDeniedFirst", kDenyGreen, kRegister, {kGreen, kBlue}, kExplicit},
      {"MultiOneNotAllowed", kBlueOnly, kRegister, {kBlue, kGreen}, kImplicit},
      {"MultiAllAllowedWildcard", kBlueOnly, kRegister, {kBlue, kBlueEu}, kAllow},
      // aws:SourceIp.
      {"CorpV4InBlock", kCorpV4, kRegister, {kBlue}, kAllow},
      {"CorpV4PlainAddress", kCorpV4, kRegister, {kBlue}, kAllow, "198.51.100.7"},
      {"CorpV4PlainAddressNeighbour", kCorpV4, kRegister, {kBlue}, kImplicit, "198.51.100.8"},
      {"CorpV4Outside", kCorpV4, kRegister, {kBlue}, kImplicit, "192.0.2.1"},
      {"CorpV4Mapped", kCorpV4, kRegister, {kBlue}, kAllow, "::ffff:203.0.113.9"},
      {"CorpV4FromV6", kCorpV4, kRegister, {kBlue}, kImplicit, "2001:db8::1"},
      {"CorpV4NoSourceIp", kCorpV4, kRegister, {kBlue}, kImplicit, ""},
      {"CorpV4Garbage", kCorpV4, kRegister, {kBlue}, kImplicit, "not-an-ip"},
      {"CorpV6Inside", kCorpV6, kRegister, {kBlue}, kAllow, "2001:db8:42::1"},
      {"CorpV6Outside", kCorpV6, kRegister, {kBlue}, kImplicit, "2001:db8:43::1"},
      {"CorpV6FromV4", kCorpV6, kRegister, {kBlue}, kImplicit},
      {"ConditionKeyCaseInsensitive", kCorpUpperKey, kRegister, {kBlue}, kAllow},
      {"DenyOutsideCorpV4Inside", kDenyOutsideCorp, kRegister, {kBlue}, kAllow, "10.1.2.3"},
      {"DenyOutsideCorpV6Inside", kDenyOutsideCorp, kRegister, {kBlue}, kAllow, "fd00::5"},
      {"DenyOutsideCorpOutside", kDenyOutsideCorp, kRegister, {kBlue}, kExplicit},
      {"DenyOutsideCorpNoSourceIp", kDenyOutsideCorp, kRegister, {kBlue}, kExplicit, ""},
      {"IpIfExistsAbsent", kIpIfExists, kRegister, {kBlue}, kAllow, ""},
      {"IpIfExistsInside", kIpIfExists, kRegister, {kBlue}, kAllow, "10.0.0.1"},
      {"IpIfExistsOutside", kIpIfExists, kRegister, {kBlue}, kImplicit},
      // aws:CurrentTime / aws:EpochTime.
      {"WindowInside", kYear2026, kRegister, {kBlue}, kAllow},
      {"WindowBefore", kYear2026, kRegister, {kBlue}, kImplicit, kHomeIp, 1767225599},
      {"WindowAtStartIsExclusive", kYear2026, kRegister, {kBlue}, kImplicit, kHomeIp, 1767225600},
      {"WindowAfter", kYear2026, kRegister, {kBlue}, kImplicit, kHomeIp, 1798761600},
      {"EpochUntilAtBound", kUntilEpoch, kRegister, {kBlue}, kAllow, kHomeIp, 1767225600},
      {"EpochUntilAfter", kUntilEpoch, kRegister, {kBlue}, kImplicit, kHomeIp, 1767225601},
      {"EpochValueFrom", kFromEpochValue, kRegister, {kBlue}, kAllow, kHomeIp, 1767225600},
      {"EpochValueBefore", kFromEpochValue, kRegister, {kBlue}, kImplicit, kHomeIp, 1767225599},
      {"OffsetBefore", kBeforeOffset, kRegister, {kBlue}, kAllow, kHomeIp, 1767265140},
      {"OffsetAfter", kBeforeOffset, kRegister, {kBlue}, kImplicit},
      {"NumericEpochBelow", kNumericEpoch, kRegister, {kBlue}, kAllow, kHomeIp, 1767225599},
      {"NumericEpochAt", kNumericEpoch, kRegister, {kBlue}, kImplicit, kHomeIp, 1767225600},
      // Resource tags.
      {"TagProd", kRegisterProd, kRegister, {kBlue}, kAllow},
      {"TagStaging", kRegisterProd, kRegister, {kGreen}, kImplicit},
      {"TagCaseSensitive", kRegisterProd, kRegister, {kBlueEu}, kImplicit},
      {"TagMissing", kRegisterProd, kRegister, {kLb}, kImplicit},
      {"TagNoResource", kRegisterProd, kRegister, {}, kImplicit},
      {"TagOtherAction", kRegisterProd, kDeleteLb, {kBlue}, kImplicit},
      {"TagPerResource", kRegisterProd, kRegister, {kBlue, kGreen}, kImplicit},
      {"TagIgnoreCase", kProdIgnoreCase, kRegister, {kBlueEu}, kAllow},
      {"TagValuesOred", kProdOrStaging, kRegister, {kGreen}, kAllow},
      {"TagValuesOredMissing", kProdOrStaging, kRegister, {kLb}, kImplicit},
      {"TagLike", kTeamLike, kRegister, {kBlue}, kAllow},
      {"TagLikeMissing", kTeamLike, kRegister, {kGreen}, kImplicit},
      {"TagKeysAnded", kProdAndWeb, kRegister, {kBlue}, kAllow},
      {"TagKeysAndedOneMissing", kProdAndWeb, kRegister, {kBlueEu}, kImplicit},
      {"DenyUnlessProdProd", kDenyUnlessProd, kRegister, {kBlue}, kAllow},
      {"DenyUnlessProdStaging", kDenyUnlessProd, kRegister, {kGreen}, kExplicit},
      {"DenyUnlessProdUntagged", kDenyUnlessProd, kRegister, {kLb}, kExplicit},
      {"NegatedValuesNored", kDenyUnlessProdOrStaging, kRegister, {kGreen}, kAllow},
      {"NegatedValuesNoredOther", kDenyUnlessProdOrStaging, kRegister, {kBlueEu}, kExplicit},
      // ...IfExists and Null.
      {"IfExistsMatch", kProdIfExists, kRegister, {kBlue}, kAllow},
      {"IfExistsMismatch", kProdIfExists, kRegister, {kGreen}, kImplicit},
      {"IfExistsAbsent", kProdIfExists, kRegister, {kLb}, kAllow},
      {"IfExistsNoResource", kProdIfExists, kDescribeTg, {}, kAllow},
      {"NullTrueUntagged", kUntagged, kRegister, {kLb}, kAllow},
      {"NullTrueTagged", kUntagged, kRegister, {kBlue}, kImplicit},
      {"NullFalseTagged", kTagged, kRegister, {kBlue}, kAllow},
      {"NullFalseUntagged", kTagged, kRegister, {kLb}, kImplicit},
      {"DenyUntaggedTagged", kDenyUntagged, kRegister, {kBlue}, kAllow},
      {"DenyUntaggedUntagged", kDenyUntagged, kRegister, {kLb}, kExplicit},
      {"DenyUntaggedMixed", kDenyUntagged, kRegister, {kBlue, kLb}, kExplicit},
      // Keys Sluice does not supply are absent.
      {"UnknownKeyAbsent", kUnknownKey, kRegister, {kBlue}, kImplicit},
      {"UnknownKeyNegated", kUnknownKeyNegated, kRegister, {kBlue}, kAllow},
      {"BoolKeyAbsent", kSecureTransport, kRegister, {kBlue}, kImplicit},
  };
  return *cases;
}

class PolicyDecision : public ::testing::TestWithParam<DecisionCase> {};

TEST_P(PolicyDecision, Table) {
  const DecisionCase& c = GetParam();
  std::optional<Policy> parsed;
  if (c.policy == "admin") {
    parsed = Policy::Admin();
  } else if (c.policy == "read-only") {
    parsed = Policy::ReadOnly();
  } else {
    ApiResult<Policy> r = Policy::Parse(c.policy);
    ASSERT_TRUE(r.ok()) << r.error().message;
    parsed = r.value();
  }
  RequestContext ctx;
  ctx.action = c.action;
  ctx.resources = c.resources;
  ctx.source_ip = c.source_ip;
  ctx.now_unix = c.now;
  ctx.resource_tag = Tag;
  EXPECT_EQ(Evaluate(*parsed, ctx), c.want) << c.policy;
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyDecision, ::testing::ValuesIn(DecisionCases()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- Malformed documents ----

std::string Statements(int n) {
  std::string doc = R"({"Version":"2012-10-17","Statement":[)";
  for (int i = 0; i < n; ++i) {
    doc += std::string(i ? "," : "") + R"({"Effect":"Allow","Action":"*","Resource":"*"})";
  }
  return doc + "]}";
}

// One statement with the given fields.
std::string One(const std::string& fields) { return R"({"Statement":[{)" + fields + "}]}"; }
const std::string kAR = R"("Action":"*","Resource":"*")";
std::string WithCondition(const std::string& condition) {
  return One(R"("Effect":"Allow",)" + kAR + R"(,"Condition":)" + condition);
}

struct MalformedCase {
  const char* name;
  std::string doc;
  std::string message;  // a substring of the error message
};

std::ostream& operator<<(std::ostream& os, const MalformedCase& c) { return os << c.name; }

const std::vector<MalformedCase>& MalformedCases() {
  static const auto* cases = new std::vector<MalformedCase>{
      {"NotJson", "this is not JSON", "Policy document is not valid JSON"},
      {"TruncatedJson", R"({"Statement":[)", "not valid JSON"},
      {"BadUtf8", "{\"Statement\":\"\xff\"}", "not valid JSON"},
      {"Empty", "", "not valid JSON"},
      {"NotObject", "[]", "must be a JSON object"},
      {"NoStatement", R"({"Version":"2012-10-17"})", "has no Statement"},
      {"EmptyStatements", R"({"Statement":[]})", "Statement must not be empty"},
      {"UnknownTopField", R"({"Statment":[]})", "unknown field \"Statment\""},
      {"BadVersion", R"({"Version":"2020-01-01","Statement":[]})", "Version must be"},
      {"TooManyStatements", Statements(101), "has 101 statements; at most 100 are allowed"},
      {"TooLarge", One(R"("Sid":")" + std::string(70000, 'a') + "\""), "larger than 65536 bytes"},
      {"TooDeep", std::string(20000, '[') + std::string(20000, ']'), "nests too deeply"},
      {"DuplicateKey", One(R"("Effect":"Deny","Effect":"Allow",)" + kAR),
       "repeats the key \"Effect\""},
      {"StatementNotObject", R"({"Statement":["Allow"]})", "Statement[0] must be an object"},
      {"EffectMaybe",
       R"({"Statement":[{"Effect":"Allow",)" + kAR + R"(},{"Effect":"Maybe",)" + kAR + "}]}",
       "Statement[1].Effect must be \"Allow\" or \"Deny\", not \"Maybe\""},
      {"EffectLowercase", One(R"("Effect":"allow",)" + kAR), "Statement[0].Effect must be"},
      {"EffectNumber", One(R"("Effect":1,)" + kAR), "Statement[0].Effect must be"},
      {"EffectMissing", One(kAR), "Statement[0].Effect is missing"},
      {"ActionMissing", One(R"("Effect":"Allow","Resource":"*")"),
       "Statement[0] has neither Action nor NotAction"},
      {"ActionAndNotAction", One(R"("Effect":"Allow","NotAction":"*",)" + kAR),
       "Statement[0] has both Action and NotAction"},
      {"ActionEmptyArray", One(R"("Effect":"Allow","Action":[],"Resource":"*")"),
       "Statement[0].Action must be a string or a non-empty array"},
      {"ActionNotString", One(R"("Effect":"Allow","Action":["*",7],"Resource":"*")"),
       "Statement[0].Action[1] must be a string"},
      {"ActionNoService", One(R"("Effect":"Allow","Action":"RegisterTargets","Resource":"*")"),
       "Statement[0].Action \"RegisterTargets\" is not"},
      {"ResourceMissing", One(R"("Effect":"Allow","Action":"*")"),
       "Statement[0] has neither Resource nor NotResource"},
      {"ResourceAndNotResource", One(R"("Effect":"Allow","NotResource":"*",)" + kAR),
       "Statement[0] has both Resource and NotResource"},
      {"ResourceNotArn", One(R"("Effect":"Allow","Action":"*","Resource":"targetgroup/x")"),
       "Statement[0].Resource \"targetgroup/x\" is not \"*\" or an ARN"},
      {"UnknownField", One(R"("Effect":"Allow",)" + kAR + R"(,"Conditon":{})"),
       "Statement[0] has unknown field \"Conditon\""},
      {"Principal", One(R"("Effect":"Allow",)" + kAR + R"(,"Principal":"*")"),
       "Statement[0] has Principal"},
      {"SidNotAlnum", One(R"("Sid":"no spaces","Effect":"Allow",)" + kAR),
       "Statement[0].Sid \"no spaces\" must be letters and digits"},
      {"SidDuplicate",
       R"({"Statement":[{"Sid":"A","Effect":"Allow",)" + kAR + R"(},{"Sid":"A","Effect":"Deny",)" +
           kAR + "}]}",
       "Statement[1].Sid \"A\" is not unique"},
      {"UnknownOperator", WithCondition(R"({"StringEqualz":{"aws:SourceIp":"x"}})"),
       "Statement[0].Condition has unknown condition operator \"StringEqualz\""},
      {"SetOperator", WithCondition(R"({"ForAnyValue:StringEquals":{"aws:TagKeys":"x"}})"),
       "unknown condition operator \"ForAnyValue:StringEquals\""},
      {"NullIfExists", WithCondition(R"({"NullIfExists":{"aws:SourceIp":"true"}})"),
       "unknown condition operator \"NullIfExists\""},
      {"ConditionNotObject", WithCondition(R"("StringEquals")"),
       "Statement[0].Condition must be an object"},
      {"OperatorEmpty", WithCondition(R"({"StringEquals":{}})"),
       "Statement[0].Condition.StringEquals must be a non-empty object"},
      {"KeyNoPrefix", WithCondition(R"({"StringEquals":{"SourceIp":"x"}})"),
       "condition key \"SourceIp\", not \"prefix:name\""},
      {"EmptyTagKey", WithCondition(R"({"StringEquals":{"aws:ResourceTag/":"x"}})"),
       "has an empty tag key"},
      {"ValuesEmpty", WithCondition(R"({"StringEquals":{"aws:SourceIp":[]}})"), "has no values"},
      {"ValueObject", WithCondition(R"({"StringEquals":{"aws:SourceIp":{"a":"b"}}})"),
       "values must be strings, numbers or booleans"},
      {"BadCidr", WithCondition(R"({"IpAddress":{"aws:SourceIp":"10.0.0.300/8"}})"),
       "Statement[0].Condition.IpAddress.aws:SourceIp value \"10.0.0.300/8\" is not an IP"},
      {"BadPrefixLength", WithCondition(R"({"NotIpAddress":{"aws:SourceIp":"10.0.0.0/33"}})"),
       "is not an IP address or CIDR block"},
      {"BadDate", WithCondition(R"({"DateLessThan":{"aws:CurrentTime":"2026-02-30T00:00:00Z"}})"),
       "value \"2026-02-30T00:00:00Z\" is not an ISO 8601 date"},
      {"BadTime", WithCondition(R"({"DateLessThan":{"aws:CurrentTime":"2026-01-01T24:00:00Z"}})"),
       "is not an ISO 8601 date"},
      {"BadNumber", WithCondition(R"({"NumericLessThan":{"aws:EpochTime":"ten"}})"),
       "value \"ten\" is not a number"},
      {"BadNull", WithCondition(R"({"Null":{"aws:SourceIp":"maybe"}})"),
       "value \"maybe\" is not \"true\" or \"false\""},
      {"BadBool", WithCondition(R"({"Bool":{"aws:SecureTransport":"yes"}})"),
       "is not \"true\" or \"false\""},
  };
  return *cases;
}

class PolicyMalformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(PolicyMalformed, Table) {
  const MalformedCase& c = GetParam();
  ApiResult<Policy> r = Policy::Parse(c.doc);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "MalformedPolicyDocument");
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_TRUE(r.error().sender);
  EXPECT_THAT(r.error().message, HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyMalformed, ::testing::ValuesIn(MalformedCases()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- Documents that parse ----

TEST(PolicyParse, AcceptedShapes) {
  struct Case {
    std::string doc;
    size_t statements;
  };
  const Case cases[] = {
      {Policy::AdminJson(), 1},
      {Policy::ReadOnlyJson(), 1},
      {Statements(100), 100},
      {R"({"Version":"2008-10-17","Id":"x","Statement":{"Effect":"Deny",)" + kAR + "}}", 1},
      {One(R"("Sid":"","Effect":"Allow",)" + kAR), 1},
      {WithCondition(R"({"NumericEquals":{"aws:EpochTime":[1,2.5,"3"]},)"
                     R"("DateEquals":{"aws:CurrentTime":["2026-01-01","2026-01-01T00:00Z",)"
                     R"("2026-01-01T00:00:00.250-0130"]},"BoolIfExists":{"aws:x":false}})"),
       1},
      {WithCondition(R"({"IpAddress":{"aws:SourceIp":["::1","10.0.0.1/8","2001:db8::/32"]}})"), 1},
  };
  for (const Case& c : cases) {
    ApiResult<Policy> r = Policy::Parse(c.doc);
    ASSERT_TRUE(r.ok()) << c.doc << ": " << r.error().message;
    EXPECT_EQ(r.value().statement_count(), c.statements) << c.doc;
  }
  EXPECT_EQ(Policy::Admin().statement_count(), 1u);
  EXPECT_EQ(Policy::ReadOnly().statement_count(), 1u);
}

// Every proper prefix of a valid document is rejected with an error, never a crash or throw.
TEST(PolicyParse, TruncationsAreErrors) {
  const std::string doc = WithCondition(
      R"({"IpAddress":{"aws:SourceIp":["203.0.113.0/24"]},"DateLessThan":{"aws:CurrentTime":)"
      R"("2026-12-31T23:59:59Z"},"StringLike":{"aws:ResourceTag/env":"prod*"}})");
  ASSERT_TRUE(Policy::Parse(doc).ok());
  for (size_t n = 0; n < doc.size(); ++n) {
    ApiResult<Policy> r = Policy::Parse(std::string_view(doc).substr(0, n));
    EXPECT_FALSE(r.ok()) << n;
  }
}

// ---- AccessDenied ----

TEST(PolicyAccessDenied, ImplicitDenyMessage) {
  RequestContext ctx;
  ctx.action = kRegister;
  ctx.resources = {kBlue};
  Evaluation e = EvaluateDetailed(Policy::ReadOnly(), ctx);
  ASSERT_EQ(e.decision, kImplicit);
  ApiError err = AccessDenied("123456789012", "alice", ctx, e);
  EXPECT_EQ(err.http_status, 403);
  EXPECT_EQ(err.code, "AccessDenied");
  EXPECT_TRUE(err.sender);
  EXPECT_EQ(err.message,
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
            "elasticloadbalancing:RegisterTargets on resource: " +
                kBlue +
                " because no identity-based policy allows the "
                "elasticloadbalancing:RegisterTargets action");
}

TEST(PolicyAccessDenied, ExplicitDenyNamesTheDeniedResource) {
  RequestContext ctx;
  ctx.action = kRegister;
  ctx.resources = {kBlue, kGreen};
  Evaluation e = EvaluateDetailed(Policy::Parse(kDenyGreen).value(), ctx);
  ASSERT_EQ(e.decision, kExplicit);
  EXPECT_EQ(e.resource, kGreen);
  ApiError err = AccessDenied("123456789012", "bob", ctx, e);
  EXPECT_EQ(err.http_status, 403);
  EXPECT_EQ(err.message,
            "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: "
            "elasticloadbalancing:RegisterTargets on resource: " +
                kGreen + " with an explicit deny in an identity-based policy");
}

TEST(PolicyAccessDenied, ResourceOfTheDecision) {
  RequestContext ctx;
  ctx.action = kRegister;
  ctx.resources = {kBlue, kLb, kGreen};
  // Implicit: the first resource nothing allows.
  EXPECT_EQ(EvaluateDetailed(Policy::Parse(kBlueOnly).value(), ctx).resource, kLb);
  // An explicit deny on a later resource outranks an earlier implicit one.
  ctx.resources = {kLb, kGreen};
  Evaluation e = EvaluateDetailed(Policy::Parse(kDenyGreen).value(), ctx);
  EXPECT_EQ(e.decision, kExplicit);
  EXPECT_EQ(e.resource, kGreen);
  // No resources: "*".
  ctx.resources.clear();
  ctx.action = kDescribeTg;
  e = EvaluateDetailed(Policy::Parse(kBlueOnly).value(), ctx);
  EXPECT_EQ(e.resource, "*");
  EXPECT_THAT(AccessDenied("1", "u", ctx, e).message, HasSubstr(" on resource: * because"));
  EXPECT_EQ(EvaluateDetailed(Policy::Admin(), ctx).resource, "");
}

// One parsed policy, evaluated from several threads at once (run under TSan to check).
TEST(PolicyConcurrency, SharedPolicyEvaluates) {
  Policy policy = Policy::Parse(kDenyUnlessProd).value();
  auto work = [&policy](int* allowed) {
    RequestContext ctx;
    ctx.action = kRegister;
    ctx.now_unix = kNow;
    ctx.resource_tag = Tag;
    for (int i = 0; i < 500; ++i) {
      ctx.resources = {i % 2 ? kBlue : kGreen};
      if (Evaluate(policy, ctx) == kAllow) ++*allowed;
    }
  };
  int a = 0, b = 0;
  std::thread t1(work, &a), t2(work, &b);
  t1.join();
  t2.join();
  EXPECT_EQ(a, 250);
  EXPECT_EQ(b, 250);
}

}  // namespace
}  // namespace sluice::api
