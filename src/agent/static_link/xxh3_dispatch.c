/* XXH3_128bits_dispatch() and XXH3_128bits_update_dispatch() for the static
 * agent. src/core/hasher.cc calls them (xxh_x86dispatch.h), and Debian's
 * libxxhash.so has them, but its libxxhash.a does not: here they are, with
 * libxxhash's choice, the widest vector unit the CPU and the kernel offer
 * (AVX-512, AVX2, else SSE2, the x86-64 baseline). The digests are the same
 * on every path; only the speed differs. */
#include <stddef.h>
#include <xxhash.h>

XXH128_hash_t sms_xxh3_128_sse2(const void* input, size_t len);
XXH128_hash_t sms_xxh3_128_avx2(const void* input, size_t len);
XXH128_hash_t sms_xxh3_128_avx512(const void* input, size_t len);
XXH_errorcode sms_xxh3_128_update_sse2(XXH3_state_t* s, const void* input,
                                       size_t len);
XXH_errorcode sms_xxh3_128_update_avx2(XXH3_state_t* s, const void* input,
                                       size_t len);
XXH_errorcode sms_xxh3_128_update_avx512(XXH3_state_t* s, const void* input,
                                         size_t len);

typedef XXH128_hash_t (*HashFn)(const void*, size_t);
typedef XXH_errorcode (*UpdateFn)(XXH3_state_t*, const void*, size_t);

struct Kernel {
  HashFn hash;
  UpdateFn update;
};

/* libgcc's CPU probe also checks that the kernel saves the AVX state. */
static struct Kernel Choose(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    return (struct Kernel){sms_xxh3_128_avx512, sms_xxh3_128_update_avx512};
  }
  if (__builtin_cpu_supports("avx2")) {
    return (struct Kernel){sms_xxh3_128_avx2, sms_xxh3_128_update_avx2};
  }
  return (struct Kernel){sms_xxh3_128_sse2, sms_xxh3_128_update_sse2};
}

static struct Kernel kernel;

/* Chosen before main(), so threads only ever read `kernel`. */
__attribute__((constructor)) static void Init(void) { kernel = Choose(); }

XXH128_hash_t XXH3_128bits_dispatch(const void* input, size_t len) {
  return kernel.hash(input, len);
}

XXH_errorcode XXH3_128bits_update_dispatch(XXH3_state_t* state,
                                           const void* input, size_t len) {
  return kernel.update(state, input, len);
}
