// Showing untrusted text in messages: escaping and cutting.
#include "config/quote.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::config {
namespace {

TEST(QuoteTest, PrintableTextIsUnchanged) {
  EXPECT_EQ(EscapeText("plain /path?q=1 'x' \\d"), "plain /path?q=1 'x' \\d");
  EXPECT_EQ(EscapeText("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80");
}

TEST(QuoteTest, ControlCharactersAreEscaped) {
  EXPECT_EQ(EscapeText(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(EscapeText("\n\r\t\x1B[31m\x7F"), "\\n\\r\\t\\x1b[31m\\x7f");
  EXPECT_EQ(EscapeText("\xC2\x85"), "\\u0085");  // C1 NEXT LINE
}

TEST(QuoteTest, BidiAndFormatCharactersAreEscaped) {
  EXPECT_EQ(EscapeText("abc\xE2\x80\xAE"
                       "fed"),
            "abc\\u202efed");                                             // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(EscapeText("\xE2\x81\xA6x\xE2\x81\xA9"), "\\u2066x\\u2069");  // isolates
  EXPECT_EQ(EscapeText("a\xE2\x80\x8B"
                       "b"),
            "a\\u200bb");                                    // ZERO WIDTH SPACE
  EXPECT_EQ(EscapeText("\xEF\xBB\xBF"), "\\ufeff");          // BOM
  EXPECT_EQ(EscapeText("\xF3\xA0\x80\x81"), "\\U000e0001");  // LANGUAGE TAG
}

TEST(QuoteTest, InvalidUtf8IsEscapedBytewise) {
  EXPECT_EQ(EscapeText("\xFF\xFE"), "\\xff\\xfe");
  EXPECT_EQ(EscapeText("\xC3"), "\\xc3");                             // truncated sequence
  EXPECT_EQ(EscapeText("\xC0\xAF"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(EscapeText("\xED\xA0\x80"), "\\xed\\xa0\\x80");           // surrogate
  EXPECT_EQ(EscapeText("\xF4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(EscapeText("\xC3(x"), "\\xc3(x");
}

TEST(QuoteTest, EscapingIsIdempotent) {
  const std::string once = EscapeText(std::string("a\0\xE2\x80\xAE\xFF\n", 7));
  EXPECT_EQ(EscapeText(once), once);
}

TEST(QuoteTest, ShortValuesAreQuotedWhole) {
  EXPECT_EQ(QuoteValue("abc"), "'abc'");
  EXPECT_EQ(QuoteValue(""), "''");
  EXPECT_EQ(QuoteValue(std::string(64, 'a')), "'" + std::string(64, 'a') + "'");
}

TEST(QuoteTest, LongValuesAreCutWithTheirLength) {
  EXPECT_EQ(QuoteValue(std::string(1 << 20, 'a')),
            "'" + std::string(64, 'a') + "\xE2\x80\xA6' (1048576 bytes)");
  EXPECT_EQ(QuoteValue("abcdef", 3), "'abc\xE2\x80\xA6' (6 bytes)");
  EXPECT_EQ(BoundText("abcdef", 3), "abc\xE2\x80\xA6 (6 bytes)");
  EXPECT_EQ(BoundText("abc", 3), "abc");
}

TEST(QuoteTest, CutsDoNotSplitUtf8Sequences) {
  // "ab" then U+00E9 (2 bytes): a cut at 3 bytes would split it.
  EXPECT_EQ(QuoteValue("ab\xC3\xA9xyz", 3), "'ab\xE2\x80\xA6' (7 bytes)");
  EXPECT_EQ(QuoteValue("\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 6),
            "'\xF0\x9F\x98\x80\xE2\x80\xA6' (8 bytes)");
}

TEST(QuoteTest, CutValuesAreEscapedToo) {
  std::string value(100, '\0');
  const std::string quoted = QuoteValue(value);
  EXPECT_EQ(quoted.find('\0'), std::string::npos);
  EXPECT_EQ(quoted.substr(0, 9), "'\\x00\\x00");
  EXPECT_NE(quoted.find("(100 bytes)"), std::string::npos);
}

}  // namespace
}  // namespace sluice::config
