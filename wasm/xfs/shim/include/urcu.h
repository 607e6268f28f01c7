/* Single-threaded stand-in for liburcu (userspace-rcu), for the wasm build of mkfs.xfs.
 * Debian's liburcu sources are not on the package mirror (404), and mkfs.xfs starts no
 * threads in this build (emscripten without -pthread), so RCU read sections have nothing to
 * exclude and every grace period is already over. See wasm/xfs/README.md. */
#ifndef _URCU_H
#define _URCU_H
#include <urcu/uatomic.h>
void rcu_init(void);
void rcu_register_thread(void);
void rcu_unregister_thread(void);
void rcu_read_lock(void);
void rcu_read_unlock(void);
void synchronize_rcu(void);
#endif
