#include "config/rewrite_template.h"

namespace sluice::config {

ReplaceTemplate ParseReplaceTemplate(std::string_view replace) {
  ReplaceTemplate t;
  auto add_literal = [&t](char c) {
    if (t.pieces.empty() || t.pieces.back().group >= 0) {
      t.pieces.push_back(ReplacePiece{-1, t.literals.size(), 0});
    }
    t.literals.push_back(c);
    ++t.pieces.back().length;
  };
  for (size_t i = 0; i < replace.size(); ++i) {
    const char c = replace[i];
    const char next = i + 1 < replace.size() ? replace[i + 1] : '\0';
    if (c != '$') {
      add_literal(c);
    } else if (next >= '0' && next <= '9') {
      const int group = next - '0';
      t.pieces.push_back(ReplacePiece{group, 0, 0});
      if (group > t.max_group) t.max_group = group;
      ++i;
    } else {
      add_literal('$');
      if (next == '$') ++i;
    }
  }
  return t;
}

}  // namespace sluice::config
