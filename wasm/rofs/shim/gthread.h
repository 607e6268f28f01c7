/* Green (cooperative) POSIX threads for emscripten 3.1.6 builds without -pthread.
 *
 * mksquashfs has no single-threaded mode (reader, writer, deflator, fragment and order
 * threads talk through queues), and Debian builds mkfs.erofs with --enable-multithreading,
 * whose code path (16 MiB compression segments, a dfops worker) shapes the image. Instead of
 * rewriting either tool, their threads run as fibers (emscripten_fiber_*, -sASYNCIFY) on the
 * one wasm thread: a thread runs until it blocks (mutex, condition variable, join, sigwait)
 * or sleeps, then the next runnable one continues. Both tools order their output by sequence
 * numbers, not by which thread finishes first, so the image is the one native builds write.
 *
 * Force-included (-include) into the tools' sources: the pthread and sleep calls are renamed
 * to gt_* so emscripten's libc stubs (pthread_create = EAGAIN) are never used. */
#ifndef REPART_GTHREAD_H
#define REPART_GTHREAD_H
/* Included before the tool's own first line: its feature macros would come too late for the
 * libc headers included here. Both tools are Linux programs built with _GNU_SOURCE semantics
 * (pread64, ...); musl has one set of declarations either way. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

int gt_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
int gt_pthread_join(pthread_t, void **);
_Noreturn void gt_pthread_exit(void *);
pthread_t gt_pthread_self(void);
int gt_pthread_equal(pthread_t, pthread_t);
int gt_pthread_detach(pthread_t);
int gt_pthread_cancel(pthread_t);
int gt_pthread_kill(pthread_t, int);
void gt_pthread_testcancel(void);
int gt_pthread_setcancelstate(int, int *);
int gt_pthread_setcanceltype(int, int *);
int gt_pthread_mutex_init(pthread_mutex_t *, const pthread_mutexattr_t *);
int gt_pthread_mutex_destroy(pthread_mutex_t *);
int gt_pthread_mutex_lock(pthread_mutex_t *);
int gt_pthread_mutex_trylock(pthread_mutex_t *);
int gt_pthread_mutex_unlock(pthread_mutex_t *);
int gt_pthread_cond_init(pthread_cond_t *, const pthread_condattr_t *);
int gt_pthread_cond_destroy(pthread_cond_t *);
int gt_pthread_cond_wait(pthread_cond_t *, pthread_mutex_t *);
int gt_pthread_cond_timedwait(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
int gt_pthread_cond_signal(pthread_cond_t *);
int gt_pthread_cond_broadcast(pthread_cond_t *);
int gt_pthread_sigmask(int, const sigset_t *, sigset_t *);
int gt_sigwait(const sigset_t *, int *);
int gt_sigwaitinfo(const sigset_t *, siginfo_t *);
int gt_sigtimedwait(const sigset_t *, siginfo_t *, const struct timespec *);
int gt_nanosleep(const struct timespec *, struct timespec *);
unsigned gt_sleep(unsigned);
int gt_usleep(unsigned);
int gt_sched_yield(void);
void gt_cleanup_push(struct __ptcb *, void (*)(void *), void *);
void gt_cleanup_pop(struct __ptcb *, int);
int gt_main(int, char **);

#define pthread_create gt_pthread_create
#define pthread_join gt_pthread_join
#define pthread_exit gt_pthread_exit
#define pthread_self gt_pthread_self
#undef pthread_equal
#define pthread_equal gt_pthread_equal
#define pthread_detach gt_pthread_detach
#define pthread_cancel gt_pthread_cancel
#define pthread_kill gt_pthread_kill
#define pthread_testcancel gt_pthread_testcancel
#define pthread_setcancelstate gt_pthread_setcancelstate
#define pthread_setcanceltype gt_pthread_setcanceltype
#define pthread_mutex_init gt_pthread_mutex_init
#define pthread_mutex_destroy gt_pthread_mutex_destroy
#define pthread_mutex_lock gt_pthread_mutex_lock
#define pthread_mutex_trylock gt_pthread_mutex_trylock
#define pthread_mutex_unlock gt_pthread_mutex_unlock
#define pthread_cond_init gt_pthread_cond_init
#define pthread_cond_destroy gt_pthread_cond_destroy
#define pthread_cond_wait gt_pthread_cond_wait
#define pthread_cond_timedwait gt_pthread_cond_timedwait
#define pthread_cond_signal gt_pthread_cond_signal
#define pthread_cond_broadcast gt_pthread_cond_broadcast
#define pthread_sigmask gt_pthread_sigmask
#define sigwait gt_sigwait
#define sigwaitinfo gt_sigwaitinfo
#define sigtimedwait gt_sigtimedwait
#define nanosleep gt_nanosleep
#define sleep gt_sleep
#define usleep gt_usleep
#define sched_yield gt_sched_yield
#define _pthread_cleanup_push gt_cleanup_push
#define _pthread_cleanup_pop gt_cleanup_pop
/* main() runs as the first fiber and ends with exit(): a return from a rewound main would be
 * lost (callMain already has the value of the first, unwound, call). */
#define main gt_main
#endif
