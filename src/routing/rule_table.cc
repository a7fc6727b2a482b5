// Rule evaluation: rules in ascending priority, first full match wins, else the default
// actions. RuleIndex (rule_index.h) narrows each request to the rules that can match; the
// candidate lists are merged back into priority order here and evaluated condition by
// condition, cheapest condition first.

#include "routing/rule_table.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "routing/condition.h"
#include "routing/match_scratch_impl.h"
#include "routing/rule_index.h"
#include "routing/transform.h"

namespace sluice::routing {
namespace {

std::vector<config::Action> SortedActions(const std::vector<config::Action>& actions) {
  std::vector<config::Action> sorted = actions;
  // Order 0 means "not given"; such an action runs after the ordered ones.
  auto key = [](const config::Action& a) {
    return a.order == 0 ? std::numeric_limits<int>::max() : a.order;
  };
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [&](const config::Action& a, const config::Action& b) { return key(a) < key(b); });
  return sorted;
}

struct CompiledRule {
  int priority = 0;
  std::vector<CompiledCondition> conditions;             // cheapest first
  std::vector<config::Action> actions;                   // sorted by order
  std::unique_ptr<const CompiledTransforms> transforms;  // null when the rule has none
};

bool RuleMatches(const CompiledRule& rule, RequestContext& ctx) {
  for (const CompiledCondition& c : rule.conditions) {
    if (!c.Matches(ctx)) return false;
  }
  return true;
}

}  // namespace

struct RuleTable::Impl {
  std::vector<CompiledRule> rules;  // ascending priority; a rule's number is its position
  std::vector<config::Action> default_actions;
  RuleIndex index;
};

MatchScratch::MatchScratch() : impl_(std::make_unique<Impl>()) {}
MatchScratch::~MatchScratch() = default;

RuleTable::RuleTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleTable::~RuleTable() = default;

size_t RuleTable::rule_count() const { return impl_->rules.size(); }

Result<std::unique_ptr<RuleTable>> RuleTable::Compile(const config::Listener& listener) {
  auto impl = std::make_unique<Impl>();
  std::vector<const config::Rule*> order;
  for (const config::Rule& r : listener.rules) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(), [](const config::Rule* a, const config::Rule* b) {
    return a->priority < b->priority;
  });
  for (const config::Rule* r : order) {
    CompiledRule rule;
    rule.priority = r->priority;
    for (const config::Condition& c : r->conditions) {
      Result<CompiledCondition> compiled = CompiledCondition::Compile(c);
      if (!compiled.ok()) {
        Error e = compiled.error();
        e.message = "rule priority " + std::to_string(r->priority) + ": " + e.message;
        return e;
      }
      rule.conditions.push_back(std::move(compiled.value()));
    }
    std::stable_sort(
        rule.conditions.begin(), rule.conditions.end(),
        [](const CompiledCondition& a, const CompiledCondition& b) { return a.cost() < b.cost(); });
    rule.actions = SortedActions(r->actions);
    Result<std::unique_ptr<const CompiledTransforms>> transforms =
        CompiledTransforms::Compile(r->transforms);
    if (!transforms.ok()) {
      Error e = transforms.error();
      e.message = "rule priority " + std::to_string(r->priority) + ": " + e.message;
      return e;
    }
    rule.transforms = std::move(transforms.value());
    impl->rules.push_back(std::move(rule));
  }
  impl->default_actions = SortedActions(listener.default_actions);
  for (uint32_t n = 0; n < impl->rules.size(); ++n) impl->index.Add(n, impl->rules[n].conditions);
  return std::unique_ptr<RuleTable>(new RuleTable(std::move(impl)));
}

MatchResult RuleTable::Match(const RequestFacts& facts, MatchScratch& scratch) const {
  const Impl& t = *impl_;
  RequestContext ctx(facts, *scratch.impl());
  RuleCursor lists[RuleIndex::kMaxCursors];
  const size_t count = t.index.Collect(ctx, lists);

  // Merge the ascending lists. A rule may sit in several lists of one index kind (e.g. under
  // two host suffixes); duplicates come out adjacent and are evaluated once.
  uint32_t previous = RuleCursor::kEnd;
  for (;;) {
    size_t pick = 0;
    uint32_t best = RuleCursor::kEnd;
    for (size_t i = 0; i < count; ++i) {
      const uint32_t head = lists[i].head();
      if (head < best) {
        best = head;
        pick = i;
      }
    }
    if (best == RuleCursor::kEnd) break;
    ++lists[pick].at;
    if (best == previous) continue;
    previous = best;
    const CompiledRule& rule = t.rules[best];
    if (RuleMatches(rule, ctx)) {
      return MatchResult{rule.priority, &rule.actions, rule.transforms.get()};
    }
  }
  return MatchResult{0, &t.default_actions};
}

}  // namespace sluice::routing
