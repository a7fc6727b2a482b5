#include "store/document_codec.h"

#include <libdeflate.h>

#include <memory>

namespace sluice::store {
namespace {

constexpr int kLevel = 1;  // the fastest; the documents are repetitive enough (~40x at 3 MB)

struct FreeCompressor {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};
struct FreeDecompressor {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

Error Problem(std::string message) { return Error{ErrorSource::kInternal, std::move(message)}; }

}  // namespace

Result<std::string> DeflateDocument(std::string_view yaml) {
  std::unique_ptr<libdeflate_compressor, FreeCompressor> c(libdeflate_alloc_compressor(kLevel));
  if (!c) return Problem("libdeflate cannot allocate a compressor");
  std::string out(libdeflate_deflate_compress_bound(c.get(), yaml.size()), '\0');
  const size_t n =
      libdeflate_deflate_compress(c.get(), yaml.data(), yaml.size(), out.data(), out.size());
  if (n == 0) return Problem("libdeflate could not compress a document");
  out.resize(n);
  return out;
}

Result<std::string> InflateDocument(std::string_view deflated, size_t yaml_bytes) {
  if (yaml_bytes > kMaxDocumentBytes) {
    return Problem("a stored document says it has " + std::to_string(yaml_bytes) +
                   " bytes, more than the " + std::to_string(kMaxDocumentBytes) +
                   " a document may have: the database is damaged");
  }
  std::unique_ptr<libdeflate_decompressor, FreeDecompressor> d(libdeflate_alloc_decompressor());
  if (!d) return Problem("libdeflate cannot allocate a decompressor");
  std::string out(yaml_bytes, '\0');
  size_t actual = 0;
  const libdeflate_result r = libdeflate_deflate_decompress(
      d.get(), deflated.data(), deflated.size(), out.data(), out.size(), &actual);
  if (r != LIBDEFLATE_SUCCESS || actual != yaml_bytes) {
    return Problem("a stored document does not inflate to its recorded " +
                   std::to_string(yaml_bytes) + " bytes: the database is damaged");
  }
  return out;
}

}  // namespace sluice::store
