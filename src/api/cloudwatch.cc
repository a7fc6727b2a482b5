#include "api/cloudwatch.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "api/query.h"
#include "api/xml.h"

namespace sluice::api {
namespace {

using observe::Dimension;
using Json = nlohmann::ordered_json;

// Names and values a caller sent are echoed back (a label, a message): bytes that are not
// UTF-8 become U+FFFD instead of making the serializer throw.
std::string Dump(const Json& j) {
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

CloudWatchReply Fail(const std::string& code, const std::string& message) {
  Json j;
  j["Error"] = {{"Type", "Sender"}, {"Code", code}, {"Message", message}};
  return {400, Dump(j)};
}

bool ParseDigits(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Dimensions.member.N.Name / .Value; an error names the incomplete member.
std::optional<std::vector<Dimension>> ReadDimensions(const QueryParams& q, std::string* error) {
  std::vector<Dimension> dims;
  auto list = q.StructList("Dimensions");
  if (!list) return dims;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string* name = (*list)[i].Get("Name");
    const std::string* value = (*list)[i].Get("Value");
    if (name == nullptr || value == nullptr) {
      *error = "Dimensions.member." + std::to_string(i + 1) + " needs a Name and a Value.";
      return std::nullopt;
    }
    dims.push_back({*name, *value});
  }
  return dims;
}

// A required parameter, or the MissingParameter message naming it.
const std::string* Required(const QueryParams& q, const char* name, std::string* error) {
  const std::string* v = q.Get(name);
  if (v == nullptr || v->empty()) *error = std::string("The parameter ") + name + " is required.";
  return v != nullptr && !v->empty() ? v : nullptr;
}

bool KnownNamespace(std::string_view ns) { return ns == kAlbNamespace || ns == kNlbNamespace; }

// The request GetMetricStatistics names, or the error that refuses it.
std::variant<observe::StatisticsRequest, observe::MetricError> ReadRequest(const QueryParams& q) {
  auto invalid = [](std::string message) {
    return observe::MetricError{"InvalidParameterValue", std::move(message)};
  };
  std::string missing;
  const std::string* ns = Required(q, "Namespace", &missing);
  const std::string* metric = Required(q, "MetricName", &missing);
  const std::string* start = Required(q, "StartTime", &missing);
  const std::string* end = Required(q, "EndTime", &missing);
  const std::string* period = Required(q, "Period", &missing);
  if (!ns || !metric || !start || !end || !period) {
    return observe::MetricError{"MissingParameter", missing};
  }
  observe::StatisticsRequest r;
  r.metric_namespace = *ns;
  r.metric = *metric;
  std::string error;
  auto dims = ReadDimensions(q, &error);
  if (!dims) return invalid(error);
  r.dimensions = std::move(*dims);
  int p = 0;
  if (!ParseTimestamp(*start, &r.start_s) || !ParseTimestamp(*end, &r.end_s)) {
    return invalid(
        "StartTime and EndTime must be ISO 8601 times (2026-12-05T15:20:00Z) or Unix seconds.");
  }
  if (!ParseDigits(*period, &p)) {
    return invalid("The parameter Period must be a whole number of seconds.");
  }
  r.period_s = p;
  r.statistics = q.List("Statistics").value_or(std::vector<std::string>{});
  r.extended = q.List("ExtendedStatistics").value_or(std::vector<std::string>{});
  return r;
}

// What an operation found, before it is rendered as JSON or XML.
struct StatisticsOut {
  std::string label;
  std::vector<observe::Datapoint> datapoints;
};
using StatisticsAnswer = std::variant<StatisticsOut, observe::MetricError>;
using ListAnswer = std::variant<std::vector<observe::SeriesName>, observe::MetricError>;

StatisticsAnswer GetMetricStatistics(const observe::MetricHistory& history, const QueryParams& q) {
  auto read = ReadRequest(q);
  if (auto* e = std::get_if<observe::MetricError>(&read)) return *e;
  const observe::StatisticsRequest& r = std::get<observe::StatisticsRequest>(read);
  StatisticsOut out{r.metric, {}};
  if (!KnownNamespace(r.metric_namespace)) return out;  // no such data
  auto answer = history.Statistics(r);
  if (auto* e = std::get_if<observe::MetricError>(&answer)) return *e;
  out.datapoints = std::move(std::get<observe::StatisticsResult>(answer).datapoints);
  return out;
}

// Filters as CloudWatch's: Namespace, MetricName, and dimensions that must all be present
// (a filter without a Value matches any value).
ListAnswer ListMetrics(const observe::MetricHistory& history, const QueryParams& q) {
  const std::string* ns = q.Get("Namespace");
  const std::string* metric = q.Get("MetricName");
  std::vector<std::pair<std::string, std::optional<std::string>>> filters;
  if (auto list = q.StructList("Dimensions")) {
    if (list->size() > 10) {  // CloudWatch's limit
      return observe::MetricError{"InvalidParameterValue",
                                  "At most 10 Dimensions may be given to filter on."};
    }
    for (const QueryParams& f : *list) {
      const std::string* name = f.Get("Name");
      if (name == nullptr) {
        return observe::MetricError{"InvalidParameterValue", "A dimension filter needs a Name."};
      }
      const std::string* value = f.Get("Value");
      filters.emplace_back(*name,
                           value != nullptr ? std::optional<std::string>(*value) : std::nullopt);
    }
  }
  std::vector<observe::SeriesName> out;
  if (ns != nullptr && !KnownNamespace(*ns)) return out;
  for (observe::SeriesName& s : history.List()) {
    if (metric != nullptr && s.metric != *metric) continue;
    if (ns != nullptr && *ns != s.metric_namespace) continue;
    bool match = true;
    for (const auto& [name, value] : filters) {
      bool found = false;
      for (const Dimension& d : s.dimensions) {
        found |= d.name == name && (!value || d.value == *value);
      }
      match &= found;
    }
    if (match) out.push_back(std::move(s));
  }
  return out;
}

CloudWatchReply StatisticsJson(const StatisticsOut& s) {
  Json out;
  out["Label"] = s.label;
  out["Datapoints"] = Json::array();
  for (const observe::Datapoint& dp : s.datapoints) {
    Json p;
    p["Timestamp"] = FormatTimestamp(dp.timestamp_s);
    for (const auto& [name, value] : dp.statistics) p[name] = value;
    if (!dp.extended.empty()) {
      Json ext = Json::object();
      for (const auto& [name, value] : dp.extended) ext[name] = value;
      p["ExtendedStatistics"] = ext;
    }
    p["Unit"] = dp.unit;
    out["Datapoints"].push_back(std::move(p));
  }
  return {200, Dump(out)};
}

CloudWatchReply ListJson(const std::vector<observe::SeriesName>& series) {
  Json out;
  out["Metrics"] = Json::array();
  for (const observe::SeriesName& s : series) {
    Json m;
    m["Namespace"] = s.metric_namespace;
    m["MetricName"] = s.metric;
    m["Dimensions"] = Json::array();
    for (const Dimension& d : s.dimensions) {
      m["Dimensions"].push_back({{"Name", d.name}, {"Value", d.value}});
    }
    out["Metrics"].push_back(std::move(m));
  }
  return {200, Dump(out)};
}

std::string Number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

std::string StatisticsXml(const StatisticsOut& s) {
  XmlWriter w;
  w.Leaf("Label", s.label);
  if (s.datapoints.empty()) {
    w.Empty("Datapoints");
    return w.str();
  }
  w.Open("Datapoints");
  for (const observe::Datapoint& dp : s.datapoints) {
    w.Open("member");
    w.Leaf("Timestamp", FormatTimestamp(dp.timestamp_s));
    for (const auto& [name, value] : dp.statistics) w.Leaf(name, Number(value));
    if (!dp.extended.empty()) {
      w.Open("ExtendedStatistics");
      for (const auto& [name, value] : dp.extended) {
        w.Open("entry").Leaf("key", name).Leaf("value", Number(value)).Close("entry");
      }
      w.Close("ExtendedStatistics");
    }
    w.Leaf("Unit", dp.unit);
    w.Close("member");
  }
  w.Close("Datapoints");
  return w.str();
}

std::string ListXml(const std::vector<observe::SeriesName>& series) {
  XmlWriter w;
  if (series.empty()) {
    w.Empty("Metrics");
    return w.str();
  }
  w.Open("Metrics");
  for (const observe::SeriesName& s : series) {
    w.Open("member").Leaf("Namespace", s.metric_namespace).Leaf("MetricName", s.metric);
    w.Open("Dimensions");
    for (const Dimension& d : s.dimensions) {
      w.Open("member").Leaf("Name", d.name).Leaf("Value", d.value).Close("member");
    }
    w.Close("Dimensions").Close("member");
  }
  w.Close("Metrics");
  return w.str();
}

CloudWatchReply Answer(const observe::MetricHistory& history, std::string_view query);

}  // namespace

bool ParseTimestamp(std::string_view s, int64_t* unix_s) {
  // Unix seconds from 1970 to the end of 9999: differences of two never overflow.
  constexpr int64_t kLatest = 253402300799;
  int64_t n = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      ec == std::errc() && p == s.data() + s.size()) {
    if (n < 0 || n > kLatest) return false;
    *unix_s = n;
    return true;
  }
  // YYYY-MM-DDTHH:MM:SS, then optional .fraction, then Z or +00:00 (or nothing: UTC).
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':') {
    return false;
  }
  int year, month, day, hour, minute, second;
  if (!ParseDigits(s.substr(0, 4), &year) || !ParseDigits(s.substr(5, 2), &month) ||
      !ParseDigits(s.substr(8, 2), &day) || !ParseDigits(s.substr(11, 2), &hour) ||
      !ParseDigits(s.substr(14, 2), &minute) || !ParseDigits(s.substr(17, 2), &second)) {
    return false;
  }
  std::string_view rest = s.substr(19);
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
    if (i == 1) return false;
    rest = rest.substr(i);
  }
  if (!(rest.empty() || rest == "Z" || rest == "+00:00" || rest == " 00:00")) return false;
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return false;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  *unix_s = static_cast<int64_t>(timegm(&tm));
  return true;
}

std::string FormatTimestamp(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

CloudWatchReply CloudWatchJson(const observe::MetricHistory& history, std::string_view query) {
  // Control-plane boundary: nothing may escape to the admin thread (allocation can fail).
  try {
    return Answer(history, query);
  } catch (const std::exception&) {
    return {500,
            "{\"Error\": {\"Type\": \"Receiver\", \"Code\": \"InternalFailure\", "
            "\"Message\": \"the request could not be answered\"}}\n"};
  }
}

namespace {

CloudWatchReply Answer(const observe::MetricHistory& history, std::string_view query) {
  ApiResult<QueryParams> parsed = QueryParams::Parse(query);
  if (!parsed.ok()) return Fail(parsed.error().code, parsed.error().message);
  const std::string* action = parsed.value().Get("Action");
  if (action == nullptr) {
    return Fail("MissingAction", "Action is required: GetMetricStatistics or ListMetrics.");
  }
  if (*action == "GetMetricStatistics") {
    StatisticsAnswer a = GetMetricStatistics(history, parsed.value());
    if (auto* e = std::get_if<observe::MetricError>(&a)) return Fail(e->code, e->message);
    return StatisticsJson(std::get<StatisticsOut>(a));
  }
  if (*action == "ListMetrics") {
    ListAnswer a = ListMetrics(history, parsed.value());
    if (auto* e = std::get_if<observe::MetricError>(&a)) return Fail(e->code, e->message);
    return ListJson(std::get<std::vector<observe::SeriesName>>(a));
  }
  return Fail("InvalidAction", "The action " + *action +
                                   " is not valid for this endpoint (GetMetricStatistics, "
                                   "ListMetrics).");
}

}  // namespace

CloudWatchAnswer CloudWatchXml(const observe::MetricHistory& history, const QueryParams& params,
                               std::string_view request_id) {
  auto fail = [&](const std::string& code, const std::string& message, int status) {
    ApiError e = SenderError(code, message, status);
    return CloudWatchAnswer{status, ErrorXml(e, request_id, kCloudWatchXmlNamespace), code,
                            message};
  };
  auto success = [&](const std::string& action, const std::string& result_xml) {
    return CloudWatchAnswer{
        200, SuccessXml(action, result_xml, request_id, kCloudWatchXmlNamespace), "", ""};
  };
  try {
    const std::string* action = params.Get("Action");
    if (action != nullptr && *action == "GetMetricStatistics") {
      StatisticsAnswer a = GetMetricStatistics(history, params);
      if (auto* e = std::get_if<observe::MetricError>(&a)) return fail(e->code, e->message, 400);
      return success(*action, StatisticsXml(std::get<StatisticsOut>(a)));
    }
    if (action != nullptr && *action == "ListMetrics") {
      ListAnswer a = ListMetrics(history, params);
      if (auto* e = std::get_if<observe::MetricError>(&a)) return fail(e->code, e->message, 400);
      return success(*action, ListXml(std::get<std::vector<observe::SeriesName>>(a)));
    }
    return fail("InvalidAction",
                "Could not find operation " + (action ? *action : std::string()) + " for version " +
                    std::string(kCloudWatchVersion) +
                    " (Sluice answers GetMetricStatistics and ListMetrics)",
                400);
  } catch (const std::exception&) {
    return {500, "", "InternalFailure", "the request could not be answered"};
  }
}

}  // namespace sluice::api
