/* See include/urcu.h: liburcu's entry points for a single-threaded program. */
#include <urcu.h>
void rcu_init(void) {}
void rcu_register_thread(void) {}
void rcu_unregister_thread(void) {}
void rcu_read_lock(void) {}
void rcu_read_unlock(void) {}
void synchronize_rcu(void) {}
