// The bytes of a bulk transfer (the tcp-bulk-* workloads of bench/run.py), shared by
// bench/tools/bulk-load.c (the client) and bench/tools/bulk-server.c (the backends); the
// harness's own check (sluicebench/httpcheck.py, bulk_pattern) makes the same bytes.
//
// The protocol: the client connects and sends one line, "GET <bytes> <seed>\n" (download:
// the server sends <bytes> bytes of the pattern, then closes) or "PUT <bytes> <seed>\n"
// (upload: the client sends <bytes> bytes of the pattern after the line; the server checks
// them and answers "OK <bytes>\n", or "ERR <what>\n", then closes); <seed> is 16 hex digits.
//
// The pattern: the stream is cut in blocks of BULK_BLOCK bytes from its first byte; block b
// starts with the 64-bit word bulk_word(seed, b), little-endian, and the rest of the block is
// a fixed filler (byte i of a block is i & 0xff). The checker reads every block's word, so
// a byte lost, added or repeated anywhere shifts the words after it and is caught at the next
// block; a span of BULK_BLOCK or more out of place (an old buffer sent again, another
// connection's bytes: every connection has its own seed) is caught at its first word; a
// transfer that ends early or runs long is caught by the count. An in-place change inside a
// block's filler is not (checking every byte would cost the load generator, which shares a
// core with the backends, a pass over every byte; the words cost 8 bytes per KiB).
#ifndef BULK_PATTERN_H
#define BULK_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define BULK_BLOCK 1024
// The size of every read and write of the tools (a multiple of BULK_BLOCK).
#define BULK_CHUNK (256 * 1024)
#define BULK_OK UINT64_MAX

static inline uint64_t bulk_word(uint64_t seed, uint64_t block) {
  return seed ^ (block * 0x9E3779B97F4A7C15ULL);
}

// The byte at stream offset `off`.
static inline unsigned char bulk_byte(uint64_t seed, uint64_t off) {
  size_t i = (size_t)(off % BULK_BLOCK);
  if (i < 8) return (unsigned char)(bulk_word(seed, off / BULK_BLOCK) >> (8 * i));
  return (unsigned char)(i & 0xff);
}

// Fills buf with the pattern's bytes from stream offset `off`. The filler is written only
// when `filled` is 0: a buffer always filled at offsets that are multiples of BULK_BLOCK
// keeps its filler, so after the first call only the words change (8 bytes per block).
static inline void bulk_fill(unsigned char* buf, size_t len, uint64_t seed, uint64_t off,
                             int filled) {
  size_t i = 0;
  if (!filled || off % BULK_BLOCK != 0) {
    for (; i < len; i++) buf[i] = bulk_byte(seed, off + i);
    return;
  }
  for (; i < len; i += BULK_BLOCK) {
    uint64_t w = bulk_word(seed, (off + i) / BULK_BLOCK);
    for (size_t k = 0; k < 8 && i + k < len; k++) buf[i + k] = (unsigned char)(w >> (8 * k));
  }
}

// Checks the block words among buf's bytes (those at stream offset `off` onwards), whole or
// cut by the edges of buf. Returns the stream offset of the first wrong byte, or BULK_OK.
static inline uint64_t bulk_check(const unsigned char* buf, size_t len, uint64_t seed,
                                  uint64_t off) {
  if (len == 0) return BULK_OK;
  uint64_t end = off + len;
  for (uint64_t b = off / BULK_BLOCK; b * BULK_BLOCK < end; b++) {
    uint64_t start = b * BULK_BLOCK, w = bulk_word(seed, b);
    for (uint64_t k = 0; k < 8; k++) {
      uint64_t at = start + k;
      if (at < off) continue;
      if (at >= end) break;
      if (buf[at - off] != (unsigned char)(w >> (8 * k))) return at;
    }
  }
  return BULK_OK;
}

#endif
