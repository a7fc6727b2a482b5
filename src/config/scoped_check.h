// The loader's checks of a change confined to one listener's rules, without loading the whole
// document again: at 10,000 rules and 100,000 targets a YAML round trip of the whole model costs
// a second or more, while what a rule change can break is the rule itself, its references and
// the listener's priorities (decision 0030).
//
// Thread: the control thread (like the loader). No I/O.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "config/error.h"
#include "config/model.h"

namespace sluice::config {

// Which rules of which listener a change added or changed. Every other part of the model is
// the one last applied, which the loader accepted.
struct ListenerRulesChange {
  size_t load_balancer = 0;
  size_t listener = 0;
  // Indices into the listener's rules (sorted by priority) of the rules added or changed;
  // none for a change of the default actions, a deletion or new priorities.
  std::vector<size_t> rules;
};

// The errors LoadConfigFromString(ExportYaml(model), label) reports for `change`, or none.
// Checked: the listener's priorities (no two rules share one), and a document that is the
// model without the listener's unchanged rules, without the target groups nothing then
// forwards to and without any group's targets, loaded as a file is (so every check of a
// rule, of its references and of the rest of the model runs as the loader runs it). Error
// fields name the rules by their index in the whole listener; lines refer to the reduced
// document and are cleared. One message differs from a whole load: a forward to an undefined
// group lists only the groups the reduced document holds (the API refuses unknown group ARNs
// before this, with TargetGroupNotFound). `model` is the one returned afterwards: its
// targets and rules are moved out for the check and moved back before returning. An index out
// of range is an error (the caller's bug), never undefined behaviour.
ConfigErrors CheckListenerRulesChange(Config& model, const ListenerRulesChange& change,
                                      std::string_view label);

// The errors LoadConfigFromString(ExportYaml(model), label) reports for a change of the
// settings of target group `group` (index in the model), a new group among them, but not of
// its targets (config::internal::CheckTargets checks a target list, which no setting changes),
// or none. Checked: a document that is the model with only the rules that forward to the
// group, the groups then referenced and the group itself (and any of its name), and no
// targets, loaded as a file is. Error fields name rules and groups by their index in the
// whole model; lines are cleared. `model` is handed back as it was given.
ConfigErrors CheckTargetGroupChange(Config& model, size_t group, std::string_view label);

// The errors LoadConfigFromString(ExportYaml(model), label) reports for a listener added
// (index `listener` of load balancer `load_balancer`) and nothing else changed, or none.
// Checked: the model whose other listeners keep only the rules that forward to a group the
// new listener forwards to (the one-load-balancer association), with the groups then
// referenced and no targets; every listener stays (ports, ids). Lines are cleared; `model`
// is handed back as it was given.
ConfigErrors CheckListenerAdded(Config& model, size_t load_balancer, size_t listener,
                                std::string_view label);

// The errors LoadConfigFromString(ExportYaml(model), label) reports for a change of
// something no check of a rule, a target group or a target reads (a listener's attributes
// or certificates; a load balancer's attributes other than
// sluice.routing.http2.cleartext.enabled, which decides what its HTTP listeners may forward
// to), or none. Checked: the model without any listener's rules, without the groups only
// rules forward to and without targets, loaded as a file is; lines are cleared. `model` is
// handed back as it was given.
ConfigErrors CheckOutsideRules(Config& model, std::string_view label);

// An upper bound of the YAML nodes the loader counts in `exported` (a document ExportYaml
// wrote: double-quoted strings on one line, block mappings and sequences, flow lists and
// mappings): 1 for the root, 2 per key indicator (the key and its value), 1 per block item
// marker ("- ") and 1 per '[' and ',' (a flow list's first and next elements; in a flow
// mapping an over-count), each outside quotes. Within 10 % of the count for the shapes the
// exporter writes most (targets, rules).
size_t YamlNodeBound(std::string_view exported);

// True when a load of `exported` cannot hit the loader's size limits (kMaxDocumentNodes, and
// the walking and value-byte budgets, which a document without aliases spends at most once
// per node and per byte). A change checked without loading the whole document (a scoped
// check, or a registration) must still fit them, or the stored document would not load at
// the next start; when this is false, check it by loading the whole document.
bool WithinLoaderLimits(std::string_view exported);

}  // namespace sluice::config
