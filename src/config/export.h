// Writing the resource model back as a Sluice YAML config, and comparing two models. The elbv2
// API keeps the configuration as a model, changes it and saves it with ExportYaml; SameModel
// tells whether a change changed anything (an idempotent Create*). Pure; any thread.
#pragma once

#include <string>

#include "config/model.h"

namespace sluice::config {

// Writes `config` as a Sluice YAML config that LoadConfigFromString accepts and that loads back
// into an equal model (Location fields, `path` strings and source_file aside). Deterministic:
// same model, same bytes. File paths (certificates, keys, CA bundles, CRLs, log directories) are
// written as they are in the model (the loader resolved them to absolute paths when it read the
// file, so the output does not depend on where it is written). A path the model holds relative
// (the config was loaded by a relative name such as "conf/sluice.yaml") is written relative too
// and is resolved again by the next load: load configs by absolute path.
//
// Every string value is written double-quoted, with '"', '\' and control characters escaped and
// all other bytes as they are, so any value comes back byte for byte ("on", "~", "0x1f",
// "a: #b", "\n", invalid UTF-8). Integers and booleans are plain. Every attribute of load
// balancers, listeners and target groups is written; other fields are left out only where the
// loader's default is the model's value (a target's Port equal to its group's, an action's
// Order 0, an empty ContentType or MessageBody, ...). Rules and actions are written in model
// order; the loader sorts them by Priority and Order, so a model should keep them sorted too.
//
// A model the loader would not produce (an HTTP listener with mutual TLS, a missing certificate,
// a TCP health check with a Matcher, ...) is written as it is, so that loading the output
// reports the problem instead of quietly dropping the field. Fields that belong to another
// kind (a Condition's http_header_name when it is not http-header, a RedirectConfig on a
// forward action, ...) are not written: the YAML has no place for them.
std::string ExportYaml(const Config& config);

// True when `a` and `b` hold the same resources with the same values, in the same order (so
// that SameModel(m, <m exported and loaded>) holds for every model the loader accepts). Every
// field is compared except Location fields, `path` strings (ListenerCertificate::path, ...),
// source_file, TargetGroupTuple::index (resolved when the config is compiled) and the members
// of a Condition or an Action that do not belong to its field or type (a forward action's
// RedirectConfig, ...), which ExportYaml does not write either. When they differ and
// `first_difference` is not null, it is set to where and how, e.g.
// "load_balancers[0].listeners[1].port: 80 vs 81".
bool SameModel(const Config& a, const Config& b, std::string* first_difference);
// The same comparison for one alarm (a reload keeps the state of an unchanged alarm).
bool SameAlarmDefinition(const AlarmDefinition& a, const AlarmDefinition& b);

}  // namespace sluice::config
