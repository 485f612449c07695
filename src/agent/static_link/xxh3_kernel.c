/* One XXH3-128 kernel, built once per instruction set (SMS_XXH_SUFFIX names
 * it; the compiler flags pick the vector unit, as xxhash.h detects it):
 * sms_xxh3_128_<suffix>() and sms_xxh3_128_update_<suffix>(). Every
 * function of xxhash.h is static here (XXH_INLINE_ALL), so no code built
 * for one instruction set is shared with another translation unit. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#define SMS_CAT2(a, b) a##b
#define SMS_CAT(a, b) SMS_CAT2(a, b)

XXH128_hash_t SMS_CAT(sms_xxh3_128_, SMS_XXH_SUFFIX)(const void* input,
                                                     size_t len) {
  return XXH3_128bits(input, len);
}

XXH_errorcode SMS_CAT(sms_xxh3_128_update_, SMS_XXH_SUFFIX)(XXH3_state_t* state,
                                                            const void* input,
                                                            size_t len) {
  return XXH3_128bits_update(state, input, len);
}
