/* The C surface src/luks/argon2.ts calls: one Argon2 hash with every RFC 9106 input
 * (secret and associated data included, for the RFC's test vectors). Single-threaded:
 * lanes are computed one after another, which gives the same result as parallel lanes. */
#include <stdint.h>
#include <stdlib.h>
#include "argon2.h"

int rz_argon2(uint32_t type, uint32_t version, uint32_t t_cost, uint32_t m_cost, uint32_t lanes,
              const uint8_t *pwd, uint32_t pwdlen, const uint8_t *salt, uint32_t saltlen,
              const uint8_t *secret, uint32_t secretlen, const uint8_t *ad, uint32_t adlen,
              uint8_t *out, uint32_t outlen) {
  argon2_context ctx = {
    .out = out, .outlen = outlen,
    .pwd = (uint8_t *)pwd, .pwdlen = pwdlen,
    .salt = (uint8_t *)salt, .saltlen = saltlen,
    .secret = (uint8_t *)secret, .secretlen = secretlen,
    .ad = (uint8_t *)ad, .adlen = adlen,
    .t_cost = t_cost, .m_cost = m_cost, .lanes = lanes, .threads = 1,
    .version = version,
    .allocate_cbk = NULL, .free_cbk = NULL,
    .flags = ARGON2_DEFAULT_FLAGS,
  };
  return argon2_ctx(&ctx, (argon2_type)type);
}

const char *rz_argon2_error(int code) { return argon2_error_message(code); }
