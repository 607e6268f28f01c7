/* qsort() as the native tools get it from glibc, not musl's (emscripten's libc).
 *
 * glibc sorts with a top-down merge sort: halves of n/2 and n - n/2, and a merge that takes the
 * left element while cmp(left, right) <= 0. musl uses smoothsort. For a comparator that is a
 * total order without ties both give the one sorted order; for anything else they differ:
 * - ties (distinct elements comparing equal) keep their input order in glibc (stable) and not
 *   in musl;
 * - an inconsistent comparator gives what glibc's merges make of it. erofs-utils 1.8.6's
 *   comp_shared_xattr_item() returns `la > lb` (0 or 1, never -1) when one xattr is a prefix of
 *   another: glibc's merges only ask "<= 0", which it answers right, musl's heap order does not,
 *   and the shared xattr table (and every inode pointing into it) came out in another order
 *   than Debian's mkfs.erofs writes.
 * So the tools are linked with -Wl,--wrap=qsort to this: the same splits and the same merge
 * rule on pointers to the elements (glibc itself sorts pointers for elements over 32 bytes; the
 * comparisons, and so the order, are the same either way), then the elements moved into that
 * order. Without memory for that, musl's sort (glibc falls back to heapsort there). */
#include <stdlib.h>
#include <string.h>

typedef int (*cmp_fn)(const void *, const void *);

void __real_qsort(void *base, size_t n, size_t size, cmp_fn cmp);

static void msort(char **b, size_t n, char **tmp, cmp_fn cmp)
{
	size_t n1, n2;
	char **b1, **b2, **t = tmp;

	if (n <= 1)
		return;
	n1 = n / 2;
	n2 = n - n1;
	b1 = b;
	b2 = b + n1;
	msort(b1, n1, tmp, cmp);
	msort(b2, n2, tmp, cmp);
	while (n1 > 0 && n2 > 0) {
		if (cmp(*b1, *b2) <= 0) {
			*t++ = *b1++;
			n1--;
		} else {
			*t++ = *b2++;
			n2--;
		}
	}
	/* what is left of the right half is in place already */
	if (n1 > 0)
		memcpy(t, b1, n1 * sizeof(*b1));
	memcpy(b, tmp, (n - n2) * sizeof(*b));
}

void __wrap_qsort(void *base, size_t n, size_t size, cmp_fn cmp)
{
	char **ptrs, **tmp, *copy;
	size_t i;

	if (n <= 1 || size == 0)
		return;
	ptrs = n <= (size_t)-1 / 2 / sizeof(*ptrs) ? malloc(2 * n * sizeof(*ptrs)) : NULL;
	copy = n <= (size_t)-1 / size ? malloc(n * size) : NULL;
	if (!ptrs || !copy) {
		free(ptrs);
		free(copy);
		__real_qsort(base, n, size, cmp);
		return;
	}
	tmp = ptrs + n;
	for (i = 0; i < n; i++)
		ptrs[i] = (char *)base + i * size;
	msort(ptrs, n, tmp, cmp);
	for (i = 0; i < n; i++)
		memcpy(copy + i * size, ptrs[i], size);
	memcpy(base, copy, n * size);
	free(copy);
	free(ptrs);
}
