/* liburcu's uatomic API on one thread (see ../urcu.h): plain loads and stores, with the
 * return values liburcu documents. CAA_BITS_PER_LONG is 32 on wasm32, so xfsprogs' configure
 * picks its own mutex-based atomic64_t, as on 32-bit native builds. */
#ifndef _URCU_UATOMIC_H
#define _URCU_UATOMIC_H
#define CAA_BITS_PER_LONG 32
#define cmm_smp_mb() __sync_synchronize()
#define cmm_barrier() __asm__ __volatile__("" ::: "memory")
#define uatomic_read(p) (*(p))
#define uatomic_set(p, v) ((void)(*(p) = (v)))
#define uatomic_add(p, v) ((void)(*(p) += (v)))
#define uatomic_sub(p, v) ((void)(*(p) -= (v)))
#define uatomic_inc(p) ((void)(++*(p)))
#define uatomic_dec(p) ((void)(--*(p)))
#define uatomic_add_return(p, v) (*(p) += (v))
#define uatomic_sub_return(p, v) (*(p) -= (v))
#define uatomic_cmpxchg(p, o, n) __sync_val_compare_and_swap((p), (o), (n))
#define uatomic_xchg(p, v) __sync_lock_test_and_set((p), (v))
#endif
