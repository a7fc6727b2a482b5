// Reading a small file the operator names (a config, a certificate, a key) without being
// fooled by what sits at the path: never opens a FIFO or device (opening can block or have
// effects), refuses anything but a regular file, and bounds the size.
#pragma once

#include <cstddef>
#include <string>

namespace sluice::config {

// Reads `path` (at most `max_bytes`, a whole number of MiB) into *text; returns "" or why
// not, e.g. "cannot open: No such file or directory", "cannot read: it is a FIFO, not a
// file", "file is 17825792 bytes; the limit is 16 MiB".
std::string ReadBoundedFile(const std::string& path, size_t max_bytes, std::string* text);

}  // namespace sluice::config
