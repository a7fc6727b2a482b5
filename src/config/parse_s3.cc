// The S3 section: where completed log files are uploaded (reference §5.1 for the keys; the
// store and its credentials are Sluice's own settings). The credentials file is read when the
// config is compiled (config/s3.h CheckS3Credentials), not here: the loader reads no file.
#include <string>

#include "config/parse.h"
#include "config/quote.h"
#include "config/webhook_url.h"

namespace sluice::config::internal {
namespace {

void ReadEndpoint(Reader& r, const Field& f, std::string* out) {
  std::optional<std::string> s = ReadString(r, f);
  if (!s) return;
  HttpUrl url;
  std::string why;
  if (!ParseHttpUrl(*s, &url, &why)) {
    r.AddError(f, "S3 endpoint " + QuoteValue(*s) + ": " + why);
  } else if (url.path != "/") {
    r.AddError(f, "S3 endpoint " + QuoteValue(*s) +
                      " must not have a path: requests go to /<bucket>/<key> on it");
  } else {
    *out = *s;
  }
}

}  // namespace

void ParseS3(LoadContext& ctx, const Field& field, S3Settings* out) {
  if (!field.present) return;
  Reader& r = ctx.reader;
  MapReader m(r, field, {"Endpoint", "Region", "CredentialsFile", "Profile", "KeepLocalFiles"});
  if (!m.ok()) return;
  ReadEndpoint(r, m.Require("Endpoint"), &out->endpoint);
  ReadRegion(r, m.Get("Region"), &out->region);
  if (Field f = m.Get("Profile"); f.present) {
    if (std::optional<std::string> s = ReadString(r, f); s && !s->empty()) out->profile = *s;
  }
  if (Field f = m.Get("KeepLocalFiles"); f.present) {
    if (std::optional<bool> b = ReadBool(r, f)) out->keep_local_files = *b;
  }
  ReadFilePath(r, m.Require("CredentialsFile"), &out->credentials_file,
               &out->credentials_file_location);
}

}  // namespace sluice::config::internal
