/* Green threads for emscripten 3.1.6 (see gthread.h): each pthread is an emscripten fiber
 * (linked with -sASYNCIFY); a scheduler picks the next runnable one, round robin, whenever
 * the current one blocks. Single wasm thread, so no locking is needed here: a mutex can only
 * be "held" across a switch, never contended mid-update. Compiled WITHOUT gthread.h. */
#include <emscripten.h>
#include <emscripten/fiber.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <time.h>

#define GT_MAX 256
#define C_STACK (1024 * 1024)
#define A_STACK (1024 * 1024)
#define STACK_ALIGN 16

enum { RUNNABLE, BLOCKED, SLEEPING, DONE };

struct gt {
	emscripten_fiber_t fiber;
	int state;
	const void *wait_on;
	double wake_at;
	void *(*fn)(void *);
	void *arg;
	void *ret;
	struct __ptcb *cleanup;
	void *cstack, *astack;
};

_Noreturn void gt_pthread_exit(void *ret);

static struct gt *threads[GT_MAX];
static int nthreads, cur;
static const char never; /* what sigwait() waits for: nothing ever wakes it */

static struct gt *self(void) { return threads[cur]; }

static void init_main(void)
{
	struct gt *t;

	if (nthreads)
		return;
	t = calloc(1, sizeof(*t));
	t->astack = malloc(A_STACK);
	if (!t || !t->astack)
		abort();
	emscripten_fiber_init_from_current_context(&t->fiber, t->astack, A_STACK);
	t->state = RUNNABLE;
	threads[nthreads++] = t;
	cur = 0;
}

/* Switch to the next thread that can run (possibly the current one). */
static void schedule(void)
{
	int i, n, best = -1;
	double now = emscripten_get_now(), soonest = 0;
	struct gt *me = self();

	for (i = 1; i <= nthreads; i++) {
		n = (cur + i) % nthreads;
		if (threads[n]->state == SLEEPING && threads[n]->wake_at <= now)
			threads[n]->state = RUNNABLE;
		if (threads[n]->state == RUNNABLE) {
			best = n;
			break;
		}
	}
	if (best < 0) {
		/* only sleepers left: the one due first runs now (time does not matter here) */
		for (n = 0; n < nthreads; n++)
			if (threads[n]->state == SLEEPING && (best < 0 || threads[n]->wake_at < soonest)) {
				best = n;
				soonest = threads[n]->wake_at;
			}
		if (best < 0) {
			fprintf(stderr, "gthread: deadlock, every thread is blocked\n");
			abort();
		}
		threads[best]->state = RUNNABLE;
	}
	if (best == cur)
		return;
	cur = best;
	emscripten_fiber_swap(&me->fiber, &threads[best]->fiber);
}

static void block_on(const void *what)
{
	struct gt *me = self();

	me->state = BLOCKED;
	me->wait_on = what;
	schedule();
}

static void wake(const void *what, int all)
{
	int n;

	for (n = 0; n < nthreads; n++)
		if (threads[n]->state == BLOCKED && threads[n]->wait_on == what) {
			threads[n]->state = RUNNABLE;
			threads[n]->wait_on = NULL;
			if (!all)
				return;
		}
}

int gt_pthread_mutex_unlock(pthread_mutex_t *m);

/* mksquashfs pushes `(void *) pthread_mutex_unlock` as a cleanup handler: an int(mutex *)
 * called as void(void *). Native ABIs shrug; a wasm indirect call with the wrong signature
 * traps. Call that one directly. */
static void run_cleanup(struct __ptcb *cb)
{
	if ((void *)cb->__f == (void *)gt_pthread_mutex_unlock)
		gt_pthread_mutex_unlock(cb->__x);
	else
		cb->__f(cb->__x);
}

static void entry(void *arg)
{
	struct gt *t = arg;

	gt_pthread_exit(t->fn(t->arg));
}

int gt_pthread_create(pthread_t *id, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	struct gt *t;

	(void)attr;
	init_main();
	if (nthreads == GT_MAX)
		return EAGAIN;
	t = calloc(1, sizeof(*t));
	if (!t)
		return EAGAIN;
	/* 16-byte aligned, as wasm's C stack pointer always is: clang relies on it (the address of
	 * `iov[h0]` in a 16-byte frame is computed as `sp | h0 << 3`), and malloc only promises 8 here.
	 * A fiber whose stack started at 8 mod 16 put erofs' two iovecs on one address and wrote
	 * a file's tail block as zeros (emscripten_fiber_init takes the stack as it is). */
	t->cstack = memalign(STACK_ALIGN, C_STACK);
	t->astack = memalign(STACK_ALIGN, A_STACK);
	if (!t->cstack || !t->astack) {
		free(t->cstack);
		free(t->astack);
		free(t);
		return EAGAIN;
	}
	t->fn = fn;
	t->arg = arg;
	t->state = RUNNABLE;
	emscripten_fiber_init(&t->fiber, entry, t, t->cstack, C_STACK, t->astack, A_STACK);
	*id = (pthread_t)(uintptr_t)(nthreads + 1);
	threads[nthreads++] = t;
	return 0;
}

_Noreturn void gt_pthread_exit(void *ret)
{
	struct gt *me;

	init_main();
	me = self();
	while (me->cleanup) {
		struct __ptcb *cb = me->cleanup;
		me->cleanup = cb->__next;
		run_cleanup(cb);
	}
	me->ret = ret;
	if (cur == 0)
		exit(0); /* the main thread: as if main() returned */
	me->state = DONE;
	wake(me, 1);
	schedule(); /* never comes back: nothing wakes a DONE thread */
	abort();
}

static struct gt *lookup(pthread_t id)
{
	uintptr_t n = (uintptr_t)id;

	return n >= 1 && n <= (uintptr_t)nthreads ? threads[n - 1] : NULL;
}

int gt_pthread_join(pthread_t id, void **ret)
{
	struct gt *t;

	init_main();
	t = lookup(id);
	if (!t)
		return ESRCH;
	if (t == self())
		return EDEADLK;
	while (t->state != DONE)
		block_on(t);
	if (ret)
		*ret = t->ret;
	return 0;
}

pthread_t gt_pthread_self(void) { init_main(); return (pthread_t)(uintptr_t)(cur + 1); }
int gt_pthread_equal(pthread_t a, pthread_t b) { return a == b; }
int gt_pthread_detach(pthread_t id) { (void)id; return 0; }
/* Only used by mksquashfs' interrupt/restore path, which needs signals we never deliver. */
int gt_pthread_cancel(pthread_t id) { (void)id; return ENOSYS; }
/* mksquashfs signals its restore thread this way, which exists only when appending. */
int gt_pthread_kill(pthread_t id, int sig) { (void)id; (void)sig; return ENOSYS; }
void gt_pthread_testcancel(void) {}
int gt_pthread_setcancelstate(int s, int *old) { if (old) *old = 0; (void)s; return 0; }
int gt_pthread_setcanceltype(int s, int *old) { if (old) *old = 0; (void)s; return 0; }

/* pthread_mutex_t: __u.__i[0] is the owner's thread number + 1, 0 when free (which is what
 * PTHREAD_MUTEX_INITIALIZER and zeroed memory give). */
#define OWNER(m) ((m)->__u.__i[0])

int gt_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	(void)a;
	memset(m, 0, sizeof(*m));
	return 0;
}
int gt_pthread_mutex_destroy(pthread_mutex_t *m) { (void)m; return 0; }

int gt_pthread_mutex_lock(pthread_mutex_t *m)
{
	init_main();
	if (OWNER(m) == cur + 1)
		return EDEADLK;
	while (OWNER(m))
		block_on(m);
	OWNER(m) = cur + 1;
	return 0;
}

int gt_pthread_mutex_trylock(pthread_mutex_t *m)
{
	init_main();
	if (OWNER(m))
		return EBUSY;
	OWNER(m) = cur + 1;
	return 0;
}

int gt_pthread_mutex_unlock(pthread_mutex_t *m)
{
	init_main();
	if (OWNER(m) != cur + 1)
		return EPERM;
	OWNER(m) = 0;
	wake(m, 1);
	return 0;
}

int gt_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	(void)a;
	memset(c, 0, sizeof(*c));
	return 0;
}
int gt_pthread_cond_destroy(pthread_cond_t *c) { (void)c; return 0; }

int gt_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	int r = gt_pthread_mutex_unlock(m);

	if (r)
		return r;
	block_on(c);
	return gt_pthread_mutex_lock(m);
}

/* Waits until signalled or, once every other thread is blocked too, until the time is up. */
int gt_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts)
{
	struct gt *me;
	int r = gt_pthread_mutex_unlock(m);

	if (r)
		return r;
	me = self();
	me->state = SLEEPING;
	me->wait_on = c;
	me->wake_at = ts->tv_sec * 1000.0 + ts->tv_nsec / 1e6 - (time(NULL) * 1000.0 - emscripten_get_now());
	schedule();
	r = me->wait_on == c ? ETIMEDOUT : 0;
	me->wait_on = NULL;
	gt_pthread_mutex_lock(m);
	return r;
}

static void wake_cond(const void *c, int all)
{
	int n;

	for (n = 0; n < nthreads; n++)
		if ((threads[n]->state == BLOCKED || threads[n]->state == SLEEPING) && threads[n]->wait_on == c) {
			threads[n]->state = RUNNABLE;
			threads[n]->wait_on = NULL;
			if (!all)
				return;
		}
}

int gt_pthread_cond_signal(pthread_cond_t *c) { init_main(); wake_cond(c, 0); return 0; }
int gt_pthread_cond_broadcast(pthread_cond_t *c) { init_main(); wake_cond(c, 1); return 0; }

int gt_pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	(void)how; (void)set;
	if (old)
		sigemptyset(old);
	return 0;
}

/* No signals are ever delivered to a tool run: a thread waiting for one waits forever. */
int gt_sigwait(const sigset_t *set, int *sig)
{
	(void)set; (void)sig;
	init_main();
	for (;;)
		block_on(&never);
}

int gt_sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	int sig;
	(void)info;
	return gt_sigwait(set, &sig);
}

/* mksquashfs' info thread only calls this after a SIGQUIT, which never comes. */
int gt_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	(void)ts;
	return gt_sigwaitinfo(set, info);
}

int gt_nanosleep(const struct timespec *req, struct timespec *rem)
{
	struct gt *me;

	init_main();
	me = self();
	me->state = SLEEPING;
	me->wait_on = NULL;
	me->wake_at = emscripten_get_now() + req->tv_sec * 1000.0 + req->tv_nsec / 1e6;
	schedule();
	if (rem)
		rem->tv_sec = rem->tv_nsec = 0;
	return 0;
}

unsigned gt_sleep(unsigned s)
{
	struct timespec t = { s, 0 };
	gt_nanosleep(&t, NULL);
	return 0;
}

int gt_usleep(unsigned us)
{
	struct timespec t = { us / 1000000, (us % 1000000) * 1000 };
	return gt_nanosleep(&t, NULL);
}

int gt_sched_yield(void)
{
	init_main();
	schedule();
	return 0;
}

void gt_cleanup_push(struct __ptcb *cb, void (*f)(void *), void *x)
{
	struct gt *me;

	init_main();
	me = self();
	cb->__f = f;
	cb->__x = x;
	cb->__next = me->cleanup;
	me->cleanup = cb;
}

void gt_cleanup_pop(struct __ptcb *cb, int run)
{
	struct gt *me = self();

	me->cleanup = cb->__next;
	if (run)
		run_cleanup(cb);
}

int gt_main(int argc, char **argv);

int main(int argc, char **argv)
{
	init_main();
	exit(gt_main(argc, argv));
}
