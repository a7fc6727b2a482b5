// The Replace string of a rule transform's RewriteConfig, split into literal text and
// capture-group references. Shared by the config loader (which checks the references against
// the regex) and the rule compiler (which expands them per request). Pure; thread-safe.
//
// Syntax (ALB documents only "$1"-style references; the rest is Sluice's choice, recorded in
// docs/alb-compatibility.md):
//   "$N"  with N one digit 0..9: capture group N ("$0" is the whole match); "$12" is group 1
//         followed by a literal '2'.
//   "$$"  a literal '$'.
//   any other '$' (before a non-digit, or at the end) is a literal '$'.
//   Every other character, '\' included, is literal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

struct ReplacePiece {
  int group = -1;     // capture group 0..9, or -1 for literal text
  size_t offset = 0;  // literal: position in ReplaceTemplate::literals
  size_t length = 0;  // literal: length
};

struct ReplaceTemplate {
  std::string literals;  // the literal pieces' text, back to back
  std::vector<ReplacePiece> pieces;
  int max_group = -1;  // highest group referenced; -1 when none
};

ReplaceTemplate ParseReplaceTemplate(std::string_view replace);

}  // namespace sluice::config
