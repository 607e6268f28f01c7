/*
 * The C surface repart-ts needs from liblzma, flattened for a wasm32 caller: lzma_stream is
 * allocated and owned here, 64-bit values cross as doubles (emscripten 3.1.6 without
 * WASM_BIGINT would split an i64), and consumed / produced counts come back through a
 * two-word status block the caller owns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <lzma.h>
#include <emscripten/emscripten.h>

EMSCRIPTEN_KEEPALIVE const char *rz_xz_version(void) { return lzma_version_string(); }

/* Encoder memory of one worker at this preset (lzma_easy_encoder_memusage), for sizing the
 * thread count to a memory budget. UINT64_MAX (unsupported preset) comes back as -1. */
EMSCRIPTEN_KEEPALIVE double rz_xz_encoder_memusage(uint32_t preset) {
  uint64_t m = lzma_easy_encoder_memusage(preset);
  return m == UINT64_MAX ? -1 : (double)m;
}

EMSCRIPTEN_KEEPALIVE lzma_stream *rz_xz_stream(void) {
  lzma_stream *s = malloc(sizeof *s);
  if (s) {
    lzma_stream init = LZMA_STREAM_INIT;
    *s = init;
  }
  return s;
}

/* (Re)start an encoder on s: one complete .xz stream, CRC64 like the xz CLI. Re-initialising
 * a stream that already ran an encoder reuses its allocations. */
EMSCRIPTEN_KEEPALIVE int rz_xz_encoder(lzma_stream *s, uint32_t preset) {
  return lzma_easy_encoder(s, preset, LZMA_CHECK_CRC64);
}

/* A decoder for concatenated .xz streams (what `xz -d` accepts, and what we write), with
 * stream padding allowed between them. memlimit < 0: none. */
EMSCRIPTEN_KEEPALIVE int rz_xz_decoder(lzma_stream *s, double memlimit) {
  return lzma_stream_decoder(s, memlimit < 0 ? UINT64_MAX : (uint64_t)memlimit, LZMA_CONCATENATED);
}

/* One lzma_code step. Returns the lzma_ret (LZMA_OK 0, LZMA_STREAM_END 1, errors > 1).
 * io[0] = consumed, io[1] = produced. */
EMSCRIPTEN_KEEPALIVE int rz_xz_code(lzma_stream *s, const uint8_t *src, size_t n, uint8_t *dst, size_t cap, int finish,
                                    uint32_t *io) {
  s->next_in = src;
  s->avail_in = n;
  s->next_out = dst;
  s->avail_out = cap;
  lzma_ret r = lzma_code(s, finish ? LZMA_FINISH : LZMA_RUN);
  io[0] = (uint32_t)(n - s->avail_in);
  io[1] = (uint32_t)(cap - s->avail_out);
  return (int)r;
}

EMSCRIPTEN_KEEPALIVE void rz_xz_stream_free(lzma_stream *s) {
  if (!s) return;
  lzma_end(s);
  free(s);
}
