/* libuuid for the wasm mkfs.xfs: the same results as util-linux's libuuid for the calls
 * mkfs.xfs makes (parse/unparse in 8-4-4-4-12 form, byte-wise compare, random version-4
 * generation from getentropy(), which emscripten serves from the host's CSPRNG). util-linux
 * is not built for wasm here; see wasm/xfs/README.md. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

void uuid_clear(uuid_t uu) { memset(uu, 0, 16); }
int uuid_compare(const uuid_t a, const uuid_t b) {
  /* util-linux compares time_low, time_mid, ... as unsigned fields, which orders the same as
   * a byte-wise compare of the big-endian layout; it returns the sign, as memcmp does. */
  int r = memcmp(a, b, 16);
  return r < 0 ? -1 : r > 0;
}
void uuid_copy(uuid_t dst, const uuid_t src) { memcpy(dst, src, 16); }
int uuid_is_null(const uuid_t uu) {
  for (int i = 0; i < 16; i++) if (uu[i]) return 0;
  return 1;
}
void uuid_generate(uuid_t out) {
  if (getentropy(out, 16) != 0) memset(out, 0, 16);
  out[6] = (out[6] & 0x0f) | 0x40;
  out[8] = (out[8] & 0x3f) | 0x80;
}
int uuid_parse(const char *in, uuid_t uu) {
  if (strlen(in) != 36) return -1;
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) { if (in[i] != '-') return -1; }
    else if (!isxdigit((unsigned char)in[i])) return -1;
  }
  for (int i = 0, j = 0; i < 16; i++) {
    if (in[j] == '-') j++;
    unsigned v; sscanf(in + j, "%2x", &v); uu[i] = (unsigned char)v; j += 2;
  }
  return 0;
}
void uuid_unparse_lower(const uuid_t u, char *out) {
  sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
          u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}
void uuid_unparse(const uuid_t u, char *out) { uuid_unparse_lower(u, out); }
