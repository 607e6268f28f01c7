/*
 * Reproducible mkfs.btrfs (linked with -Wl,--wrap=uuid_generate -Wl,--wrap=time).
 *
 * Native mkfs.btrfs draws its device, chunk-tree and subvolume UUIDs from the system's random
 * source and stamps root items and the top-level directories with time(NULL), so two runs on
 * the same input never give the same bytes. The JS host (src/fs/btrfs/repro.ts) can hand the
 * tool both instead:
 *
 *   REPART_TS_UUIDS   comma-separated list of 32-hex-digit UUIDs, given out in order, one per
 *                     uuid_generate() call; running out is an error (exit 1), never a silent
 *                     fall-back to random ones.
 *   SOURCE_DATE_EPOCH what time() returns (the time every new inode and root item gets).
 *
 * Without them the tool behaves exactly as the native one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef unsigned char uuid_t[16];

void __real_uuid_generate(uuid_t out);
time_t __real_time(time_t *t);

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static unsigned next_uuid;

void __wrap_uuid_generate(uuid_t out) {
  const char *list = getenv("REPART_TS_UUIDS");
  if (!list || !*list) {
    __real_uuid_generate(out);
    return;
  }
  /* entries are 32 hex digits + ',' */
  size_t at = (size_t)next_uuid * 33;
  if (strlen(list) < at + 32) {
    fprintf(stderr, "mkfs.btrfs: REPART_TS_UUIDS has no UUID #%u left\n", next_uuid);
    exit(1);
  }
  for (int i = 0; i < 16; i++) {
    int hi = hexval(list[at + 2 * i]), lo = hexval(list[at + 2 * i + 1]);
    if (hi < 0 || lo < 0) {
      fprintf(stderr, "mkfs.btrfs: REPART_TS_UUIDS entry #%u is not hex\n", next_uuid);
      exit(1);
    }
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  next_uuid++;
}

time_t __wrap_time(time_t *t) {
  const char *e = getenv("SOURCE_DATE_EPOCH");
  if (!e || !*e) return __real_time(t);
  char *end;
  long long v = strtoll(e, &end, 10);
  if (*end || v < 0) return __real_time(t);
  if (t) *t = (time_t)v;
  return (time_t)v;
}
