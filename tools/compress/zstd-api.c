/*
 * The C surface repart-ts needs from libzstd, flattened for a wasm32 caller: no structs cross
 * the boundary (ZSTD_inBuffer/outBuffer live here), sizes above 4 GiB arrive as doubles
 * (emscripten 3.1.6 without WASM_BIGINT would split an i64 argument), and the consumed /
 * produced byte counts come back through a two-word status block the caller owns.
 */
#include <stddef.h>
#include <stdint.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_estimateCStreamSize_usingCParams */
#include "zstd.h"
#include <emscripten/emscripten.h>

EMSCRIPTEN_KEEPALIVE const char *rz_zstd_version(void) { return ZSTD_versionString(); }
EMSCRIPTEN_KEEPALIVE int rz_zstd_max_level(void) { return ZSTD_maxCLevel(); }
EMSCRIPTEN_KEEPALIVE int rz_zstd_is_error(size_t r) { return ZSTD_isError(r); }
EMSCRIPTEN_KEEPALIVE const char *rz_zstd_error_name(size_t r) { return ZSTD_getErrorName(r); }

/* Worst-case encoder memory for one frame of srcSize bytes at this level: what a worker
 * will allocate, so the caller can size its thread count to a memory budget. */
EMSCRIPTEN_KEEPALIVE double rz_zstd_cstream_size(int level, double srcSize) {
  ZSTD_compressionParameters p = ZSTD_getCParams(level, (unsigned long long)srcSize, 0);
  return (double)ZSTD_estimateCStreamSize_usingCParams(p);
}

/* Like the zstd CLI: content checksum on. The content size goes into each frame header via
 * the pledged size, which also shrinks the window (and memory) for small frames. */
EMSCRIPTEN_KEEPALIVE ZSTD_CCtx *rz_zstd_cctx(int level, int checksum) {
  ZSTD_CCtx *c = ZSTD_createCCtx();
  if (!c) return NULL;
  if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum ? 1 : 0))) {
    ZSTD_freeCCtx(c);
    return NULL;
  }
  return c;
}

/* Start a new frame on a context that may have been used before (keeps the parameters). */
EMSCRIPTEN_KEEPALIVE size_t rz_zstd_begin(ZSTD_CCtx *c, double pledged) {
  size_t r = ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
  if (ZSTD_isError(r)) return r;
  return ZSTD_CCtx_setPledgedSrcSize(c, pledged < 0 ? ZSTD_CONTENTSIZE_UNKNOWN : (unsigned long long)pledged);
}

/* One ZSTD_compressStream2 step. Returns ZSTD's result (an error code, or with end != 0 the
 * bytes still to flush: 0 once the frame is complete). io[0] = consumed, io[1] = produced. */
EMSCRIPTEN_KEEPALIVE size_t rz_zstd_compress(ZSTD_CCtx *c, const void *src, size_t n, void *dst, size_t cap, int end,
                                             uint32_t *io) {
  ZSTD_inBuffer in = {src, n, 0};
  ZSTD_outBuffer out = {dst, cap, 0};
  size_t r = ZSTD_compressStream2(c, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
  io[0] = (uint32_t)in.pos;
  io[1] = (uint32_t)out.pos;
  return r;
}

EMSCRIPTEN_KEEPALIVE void rz_zstd_cctx_free(ZSTD_CCtx *c) { ZSTD_freeCCtx(c); }

/* windowLogMax as the CLI's default memory limit (27 = 128 MiB); frames made with --long=31
 * need a larger one, which the caller may pass. */
EMSCRIPTEN_KEEPALIVE ZSTD_DCtx *rz_zstd_dctx(int windowLogMax) {
  ZSTD_DCtx *d = ZSTD_createDCtx();
  if (!d) return NULL;
  if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, windowLogMax))) {
    ZSTD_freeDCtx(d);
    return NULL;
  }
  return d;
}

/* One ZSTD_decompressStream step; concatenated frames (and skippable frames) are read one
 * after another. Returns 0 exactly at a frame boundary, otherwise a hint > 0, or an error. */
EMSCRIPTEN_KEEPALIVE size_t rz_zstd_decompress(ZSTD_DCtx *d, const void *src, size_t n, void *dst, size_t cap,
                                               uint32_t *io) {
  ZSTD_inBuffer in = {src, n, 0};
  ZSTD_outBuffer out = {dst, cap, 0};
  size_t r = ZSTD_decompressStream(d, &out, &in);
  io[0] = (uint32_t)in.pos;
  io[1] = (uint32_t)out.pos;
  return r;
}

EMSCRIPTEN_KEEPALIVE void rz_zstd_dctx_free(ZSTD_DCtx *d) { ZSTD_freeDCtx(d); }
