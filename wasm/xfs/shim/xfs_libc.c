#define _GNU_SOURCE
/* libc behaviour mkfs.xfs needs under emscripten 3.1.6 (link with -Wl,--wrap=sysconf
 * -Wl,--wrap=getpagesize), as wasm/rofs/shim/rofs_libc.c does for the read-only tools. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/types.h>
#include <unistd.h>

/* wasm's "page" is 64 KiB; mkfs.xfs compares block sizes with the page size and libxfs sizes
 * in-memory buffers from it. Report what a Linux x86-64/arm64 host reports. */
long __real_sysconf(int name);
long __wrap_sysconf(int name)
{
	if (name == _SC_PAGESIZE)
		return 4096;
	if (name == _SC_PHYS_PAGES)
		return 524288;      /* 2 GiB, the wasm32 limit, in 4 KiB pages */
	return __real_sysconf(name);
}
int __real_getpagesize(void);
int __wrap_getpagesize(void) { return 4096; }

/* getrandom(): declared by emscripten 3.1.6 but not implemented (libxfs' get_random_u32). */
int getentropy(void *buf, size_t len);
ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
	size_t done = 0;

	(void)flags;
	while (done < len) {
		size_t n = len - done > 256 ? 256 : len - done;
		if (getentropy((char *)buf + done, n))
			return -1;
		done += n;
	}
	return (ssize_t)len;
}

/* libfrog's platform_physmem(): 2 GiB, the wasm32 address-space limit (libxfs sizes its
 * buffer cache from it). */
int sysinfo(struct sysinfo *info)
{
	memset(info, 0, sizeof(*info));
	info->uptime = 1;
	info->totalram = 2048UL * 1024 * 1024;
	info->freeram = info->totalram;
	info->mem_unit = 1;
	info->procs = 1;
	return 0;
}

/* getsubopt(): for a token that names no suboption, glibc points *valuep at the whole token,
 * musl leaves it NULL. mkfs.xfs relies on glibc's behaviour for `-p [slashes_are_spaces=1,]FILE`
 * (the bare FILE is the protofile). Link with -Wl,--wrap=getsubopt. */
int __real_getsubopt(char **optionp, char *const *tokens, char **valuep);
int __wrap_getsubopt(char **optionp, char *const *tokens, char **valuep)
{
	char *start = *optionp;
	int r = __real_getsubopt(optionp, tokens, valuep);

	if (r < 0)
		*valuep = start;
	return r;
}
