#include "config/scoped_check.h"

#include <charconv>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

#include "config/export.h"
#include "config/loader.h"
#include "config/yaml_reader.h"

namespace sluice::config {
namespace {

std::string ListenerPath(size_t lb, size_t listener) {
  return "LoadBalancers[" + std::to_string(lb) + "].Listeners[" + std::to_string(listener) + "]";
}

std::string RulePath(const ListenerRulesChange& change, size_t rule) {
  return ListenerPath(change.load_balancer, change.listener) + ".Rules[" + std::to_string(rule) +
         "]";
}

// Adds the target groups `actions` name (every action's forward config, whatever its
// type).
void AddForwards(const std::vector<Action>& actions, std::set<std::string>* out) {
  for (const Action& a : actions) {
    for (const TargetGroupTuple& t : a.forward.target_groups) out->insert(t.target_group);
  }
}

bool ForwardsToAny(const std::vector<Action>& actions, const std::set<std::string>& groups) {
  for (const Action& a : actions) {
    for (const TargetGroupTuple& t : a.forward.target_groups) {
      if (groups.count(t.target_group) != 0) return true;
    }
  }
  return false;
}

// The names of the target groups `model` forwards to (default actions and rules).
std::set<std::string> ReferencedGroups(const Config& model) {
  std::set<std::string> out;
  for (const LoadBalancer& lb : model.load_balancers) {
    for (const Listener& l : lb.listeners) {
      AddForwards(l.default_actions, &out);
      for (const Rule& r : l.rules) AddForwards(r.actions, &out);
    }
  }
  return out;
}

// Rewrites through `map` (an index of the reduced document to one of the whole model) the
// index after each `prefix` in `text` that starts a path (at the start, or after a byte
// other than '.': "TargetGroups[1]" but not "ForwardConfig.TargetGroups[1]").
void RemapIndices(std::string* text, const std::string& prefix, const std::vector<size_t>& map) {
  for (size_t at = text->find(prefix); at != std::string::npos; at = text->find(prefix, at + 1)) {
    if (at > 0 && (*text)[at - 1] == '.') continue;
    const size_t from = at + prefix.size();
    const size_t close = text->find(']', from);
    if (close == std::string::npos) return;
    size_t k = 0;
    const auto [end, ec] = std::from_chars(text->data() + from, text->data() + close, k);
    if (ec != std::errc() || end != text->data() + close || k >= map.size()) continue;
    text->replace(from, close - from, std::to_string(map[k]));
  }
}

// `message` without the " (line N)" and " (first at line N)" references it makes to the
// reduced document.
void DropLines(std::string* message) {
  for (const std::string_view mark :
       {std::string_view(" (line "), std::string_view(" (first at line ")}) {
    for (size_t at = message->find(mark); at != std::string::npos; at = message->find(mark, at)) {
      size_t end = at + mark.size();
      while (end < message->size() && (*message)[end] >= '0' && (*message)[end] <= '9') ++end;
      if (end == at + mark.size() || end >= message->size() || (*message)[end] != ')') {
        ++at;
        continue;
      }
      message->erase(at, end + 1 - at);
    }
  }
}

// Which rules of a listener a reduced document keeps (indices, ascending), or none when it
// keeps them all.
using RuleSelection =
    std::function<std::optional<std::vector<size_t>>(size_t lb, size_t listener, const Listener&)>;

// Reduces a model to what a change can break, and restores it when it ends: each listener
// keeps the rules `select` gives; the target groups are those still referenced and `also`
// (and any of the same name), without their targets (a group's own checks passed when it was
// last changed, and no rule or setting check reads a target; CheckTargets checks a list
// alone). Everything is moved and moved back in place; only the kept rules are copied.
class ReducedModel {
 public:
  ReducedModel(Config& model, const RuleSelection& select, const std::string* also)
      : model_(model) {
    for (size_t b = 0; b < model.load_balancers.size(); ++b) {
      for (size_t l = 0; l < model.load_balancers[b].listeners.size(); ++l) {
        Listener& listener = model.load_balancers[b].listeners[l];
        std::optional<std::vector<size_t>> keep = select(b, l, listener);
        if (!keep) continue;
        Lent lent{b, l, std::move(listener.rules), std::move(*keep)};
        listener.rules.clear();
        for (size_t i : lent.kept) listener.rules.push_back(lent.rules[i]);
        lent_.push_back(std::move(lent));
      }
    }
    groups_ = std::move(model.target_groups);
    model.target_groups.clear();
    const std::set<std::string> used = ReferencedGroups(model);
    targets_.resize(groups_.size());
    for (size_t i = 0; i < groups_.size(); ++i) {
      if (used.count(groups_[i].name) == 0 && (also == nullptr || groups_[i].name != *also)) {
        continue;
      }
      kept_groups_.push_back(i);
      targets_[i] = std::move(groups_[i].targets);
      groups_[i].targets.clear();
      model.target_groups.push_back(std::move(groups_[i]));
    }
  }
  ~ReducedModel() {
    for (size_t k = 0; k < kept_groups_.size(); ++k) {
      const size_t i = kept_groups_[k];
      groups_[i] = std::move(model_.target_groups[k]);
      groups_[i].targets = std::move(targets_[i]);
    }
    model_.target_groups = std::move(groups_);
    for (Lent& lent : lent_) {
      model_.load_balancers[lent.lb].listeners[lent.listener].rules = std::move(lent.rules);
    }
  }
  ReducedModel(const ReducedModel&) = delete;
  ReducedModel& operator=(const ReducedModel&) = delete;

  // The reduced document's errors as errors of the whole model: the rules and groups they
  // name (in fields and messages) are renumbered, and their lines mean nothing to the caller.
  void Renumber(ConfigErrors* errors) const {
    for (ConfigError& e : *errors) {
      e.line = 0;
      e.column = 0;
      DropLines(&e.message);
      for (std::string* text : {&e.field, &e.message}) {
        RemapIndices(text, "TargetGroups[", kept_groups_);
        for (const Lent& lent : lent_) {
          RemapIndices(text, ListenerPath(lent.lb, lent.listener) + ".Rules[", lent.kept);
        }
      }
    }
  }

 private:
  struct Lent {  // a listener's rules, taken while the model is reduced
    size_t lb = 0;
    size_t listener = 0;
    std::vector<Rule> rules;
    std::vector<size_t> kept;  // indices in rules of the copies the listener holds, in order
  };
  Config& model_;
  std::vector<Lent> lent_;
  std::vector<TargetGroup> groups_;
  std::vector<size_t> kept_groups_;  // indices in groups_ of the groups lent to the model
  std::vector<std::vector<Target>> targets_;
};

// Loads the export of `model` reduced by `select` and `also`, and names the errors it finds
// as fields of the whole model.
ConfigErrors LoadReduced(Config& model, const RuleSelection& select, const std::string* also,
                         std::string_view label) {
  ConfigErrors errors;
  ReducedModel reduced(model, select, also);
  LoadResult loaded = LoadConfigFromString(ExportYaml(model), label);
  if (auto* found = std::get_if<ConfigErrors>(&loaded)) {
    errors = std::move(*found);
    reduced.Renumber(&errors);
  }
  return errors;
}

// The loader's priority check over the whole listener: no two rules share a priority.
void CheckPriorities(const ListenerRulesChange& change, const Listener& listener,
                     const std::string& file, ConfigErrors* errors) {
  std::map<int, size_t> first;  // priority -> index of its first rule
  for (size_t i = 0; i < listener.rules.size(); ++i) {
    const int p = listener.rules[i].priority;
    auto [it, inserted] = first.emplace(p, i);
    if (inserted) continue;
    errors->push_back(ConfigError{
        file, 0, 0, RulePath(change, i) + ".Priority",
        "priority " + std::to_string(p) + " is already used by " + RulePath(change, it->second)});
  }
}

}  // namespace

ConfigErrors CheckListenerRulesChange(Config& model, const ListenerRulesChange& change,
                                      std::string_view label) {
  const std::string file(label);
  if (change.load_balancer >= model.load_balancers.size() ||
      change.listener >= model.load_balancers[change.load_balancer].listeners.size()) {
    return {ConfigError{file, 0, 0, "", "internal error: the changed listener does not exist"}};
  }
  Listener& listener = model.load_balancers[change.load_balancer].listeners[change.listener];
  for (size_t i : change.rules) {
    if (i >= listener.rules.size()) {
      return {ConfigError{file, 0, 0, "", "internal error: the changed rule does not exist"}};
    }
  }
  ConfigErrors errors;
  CheckPriorities(change, listener, file, &errors);
  if (!errors.empty()) return errors;
  // Other listeners keep their rules: a forward to a group another load balancer uses is
  // refused, wherever that load balancer's forward is written.
  const RuleSelection select = [&change](size_t lb, size_t l,
                                         const Listener&) -> std::optional<std::vector<size_t>> {
    if (lb != change.load_balancer || l != change.listener) return std::nullopt;
    return change.rules;
  };
  return LoadReduced(model, select, nullptr, label);
}

namespace {

// Every listener keeps only the rules that forward to one of `groups`.
RuleSelection RulesForwardingTo(const std::set<std::string>& groups) {
  return [&groups](size_t, size_t, const Listener& listener) {
    std::vector<size_t> keep;
    for (size_t i = 0; i < listener.rules.size(); ++i) {
      if (ForwardsToAny(listener.rules[i].actions, groups)) keep.push_back(i);
    }
    return std::optional<std::vector<size_t>>(std::move(keep));
  };
}

}  // namespace

ConfigErrors CheckTargetGroupChange(Config& model, size_t group, std::string_view label) {
  if (group >= model.target_groups.size()) {
    return {ConfigError{std::string(label), 0, 0, "",
                        "internal error: the changed target group does not exist"}};
  }
  const std::string name = model.target_groups[group].name;
  const std::set<std::string> groups = {name};
  return LoadReduced(model, RulesForwardingTo(groups), &name, label);
}

ConfigErrors CheckListenerAdded(Config& model, size_t load_balancer, size_t listener,
                                std::string_view label) {
  if (load_balancer >= model.load_balancers.size() ||
      listener >= model.load_balancers[load_balancer].listeners.size()) {
    return {ConfigError{std::string(label), 0, 0, "",
                        "internal error: the added listener does not exist"}};
  }
  const Listener& added = model.load_balancers[load_balancer].listeners[listener];
  std::set<std::string> groups;
  AddForwards(added.default_actions, &groups);
  for (const Rule& r : added.rules) AddForwards(r.actions, &groups);
  const RuleSelection others = RulesForwardingTo(groups);
  const RuleSelection select = [&](size_t b, size_t l,
                                   const Listener& x) -> std::optional<std::vector<size_t>> {
    if (b == load_balancer && l == listener) return std::nullopt;  // all of its own
    return others(b, l, x);
  };
  return LoadReduced(model, select, nullptr, label);
}

ConfigErrors CheckOutsideRules(Config& model, std::string_view label) {
  const RuleSelection none = [](size_t, size_t, const Listener&) {
    return std::optional<std::vector<size_t>>(std::vector<size_t>{});
  };
  return LoadReduced(model, none, nullptr, label);
}

namespace {

// A table of the bytes a scan stops at.
struct StopBytes {
  explicit constexpr StopBytes(std::string_view bytes) {
    for (char c : bytes) stop[static_cast<unsigned char>(c)] = true;
  }
  bool stop[256] = {};
};

constexpr StopBytes kOutsideQuotes{"\":-[,"};
constexpr StopBytes kInsideQuotes{"\"\\"};

// The first byte at or after `i` the table stops at; `n` when none.
inline size_t SkipTo(const StopBytes& table, const char* p, size_t i, size_t n) {
  while (i + 4 <= n) {  // unrolled: most bytes of an export are letters, digits and spaces
    if (table.stop[static_cast<unsigned char>(p[i])]) return i;
    if (table.stop[static_cast<unsigned char>(p[i + 1])]) return i + 1;
    if (table.stop[static_cast<unsigned char>(p[i + 2])]) return i + 2;
    if (table.stop[static_cast<unsigned char>(p[i + 3])]) return i + 3;
    i += 4;
  }
  while (i < n && !table.stop[static_cast<unsigned char>(p[i])]) ++i;
  return i;
}

// Only spaces between the line's start and `i`.
bool AtLineStart(const char* p, size_t i) {
  while (i > 0 && p[i - 1] == ' ') --i;
  return i == 0 || p[i - 1] == '\n';
}

}  // namespace

// Jumps from one byte that may count to the next instead of switching on every byte: at a
// 6 MB export (10,000 rules, 100,000 targets) 13 ms became ~3 (decision 0031). A '-' looks
// back for its line's start; a newline inside quotes cannot matter, since a '-' after it
// would be inside the same quotes.
size_t YamlNodeBound(std::string_view exported) {
  const char* p = exported.data();
  const size_t n = exported.size();
  auto blank_after = [p, n](size_t i) { return i + 1 >= n || p[i + 1] == ' ' || p[i + 1] == '\n'; };
  size_t nodes = 1;
  size_t i = 0;
  while ((i = SkipTo(kOutsideQuotes, p, i, n)) < n) {
    switch (p[i]) {
      case '"':
        for (i = SkipTo(kInsideQuotes, p, i + 1, n); i < n && p[i] == '\\';) {
          i = SkipTo(kInsideQuotes, p, i + 2, n);
        }
        break;  // at the closing quote (or the end)
      case ':':
        if (blank_after(i)) nodes += 2;
        break;
      case '-':
        if (blank_after(i) && AtLineStart(p, i)) ++nodes;
        break;
      default:  // '[' or ','
        ++nodes;
        break;
    }
    ++i;
  }
  return nodes;
}

bool WithinLoaderLimits(std::string_view exported) {
  return exported.size() <= internal::Reader::kMaxValueBytes &&
         YamlNodeBound(exported) <= kMaxDocumentNodes &&
         kMaxDocumentNodes <= internal::Reader::kMaxSteps;
}

}  // namespace sluice::config
