// libFuzzer target for GET /cloudwatch (src/api/cloudwatch.h): the input is the query string
// of a GetMetricStatistics or ListMetrics call, answered from a small fixed history. Traps
// (abort) when an invariant fails:
//  * every answer is 200 or 400 and its body is JSON;
//  * a 400 carries Error.Code and a non-empty Error.Message;
//  * a 200 GetMetricStatistics has a Label and at most 1,440 Datapoints, each with a
//    Timestamp that ParseTimestamp reads back and a Unit;
//  * ParseTimestamp of the input never crashes, and of FormatTimestamp(t) gives t back;
//  * the same query through the API endpoint's XML path (CloudWatchXml) answers 200 or 400,
//    a 400 with its error code, and the XML names CloudWatch's namespace.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "api/cloudwatch.h"

namespace {

using sluice::observe::MetricHistory;
using sluice::observe::Scalar;
using sluice::observe::SeriesKind;

MetricHistory* Fixture() {
  static MetricHistory* h = [] {
    auto* history = new MetricHistory(10, 3600);
    for (int i = 1; i <= 30; ++i) {
      sluice::observe::SeriesTotal rt = Scalar("TargetResponseTime", {{"TargetGroup", "tg"}},
                                               SeriesKind::kHistogram, "Seconds", 0);
      rt.histogram.count = static_cast<uint64_t>(i);
      rt.histogram.sum_ms = static_cast<uint64_t>(i * 7);
      rt.histogram.buckets[3] = static_cast<uint64_t>(i);
      history->Record(1000 + 10 * i, {Scalar("RequestCount", {{"LoadBalancer", "lb"}},
                                             SeriesKind::kCounterAlways, "Count", i * 3),
                                      Scalar("HTTPCode_ELB_5XX_Count", {{"LoadBalancer", "lb"}},
                                             SeriesKind::kCounter, "Count", i / 4),
                                      Scalar("HealthyHostCount", {{"TargetGroup", "tg"}},
                                             SeriesKind::kGauge, "Count", i % 3),
                                      rt});
    }
    return history;
  }();
  return h;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  int64_t t = 0;
  if (sluice::api::ParseTimestamp(input, &t)) {
    Check(t >= 0 && t <= 253402300799);
    int64_t back = 0;
    Check(sluice::api::ParseTimestamp(sluice::api::FormatTimestamp(t), &back) && back == t);
  }
  auto params = sluice::api::QueryParams::Parse(input);
  if (params.ok()) {
    sluice::api::CloudWatchAnswer x = sluice::api::CloudWatchXml(*Fixture(), params.value(), "id");
    Check((x.status == 200 && x.error_code.empty()) || (x.status == 400 && !x.error_code.empty()));
    Check(x.xml.find(sluice::api::kCloudWatchXmlNamespace) != std::string::npos);
  }
  sluice::api::CloudWatchReply r = sluice::api::CloudWatchJson(*Fixture(), input);
  Check(r.status == 200 || r.status == 400);
  nlohmann::json j = nlohmann::json::parse(r.json, nullptr, /*allow_exceptions=*/false);
  Check(!j.is_discarded() && j.is_object());
  if (r.status == 400) {
    Check(j.contains("Error") && j["Error"]["Code"].is_string() &&
          j["Error"]["Message"].is_string() && !j["Error"]["Message"].get<std::string>().empty());
    return 0;
  }
  if (j.contains("Datapoints")) {
    Check(j["Label"].is_string() && j["Datapoints"].size() <= 1440);
    for (const auto& p : j["Datapoints"]) {
      int64_t ts = 0;
      Check(p["Timestamp"].is_string() &&
            sluice::api::ParseTimestamp(p["Timestamp"].get<std::string>(), &ts) &&
            p["Unit"].is_string());
    }
  } else {
    Check(j["Metrics"].is_array());
  }
  return 0;
}
