// libFuzzer target for the state store's document codec (store/document_codec.h): what a
// damaged or hostile database row (`yaml_bytes`, `deflated`) makes of InflateDocument, and
// DeflateDocument's round trip. The input: two bytes, little-endian, the recorded length
// (so at most 64 KiB: the bound itself is checked once); the rest, the stored bytes.
// Traps (abort) when an invariant fails:
//  * an inflated document has exactly the recorded length, and deflating it again and
//    inflating that gives it back;
//  * the stored bytes, taken as a document, survive DeflateDocument + InflateDocument;
//  * a recorded length past kMaxDocumentBytes is refused before any allocation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/document_codec.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// Deflated and inflated again, `text` comes back whole.
void CheckRoundTrip(std::string_view text) {
  auto deflated = sluice::store::DeflateDocument(text);
  Check(deflated.ok());
  auto back = sluice::store::InflateDocument(deflated.value(), text.size());
  Check(back.ok() && back.value() == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t yaml_bytes = data[0] | (static_cast<size_t>(data[1]) << 8);
  const std::string_view stored(reinterpret_cast<const char*>(data + 2), size - 2);
  auto inflated = sluice::store::InflateDocument(stored, yaml_bytes);
  if (inflated.ok()) {
    Check(inflated.value().size() == yaml_bytes);
    CheckRoundTrip(inflated.value());
  }
  CheckRoundTrip(stored);
  Check(!sluice::store::InflateDocument(stored, sluice::store::kMaxDocumentBytes + 1).ok());
  return 0;
}
