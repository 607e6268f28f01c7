/* Link with -Wl,--wrap=memcpy and -mbulk-memory (mke2fs). emscripten 3.1.6's
 * prebuilt libc copies 512 bytes or more by calling out to JavaScript
 * (emscripten_memcpy_big: HEAPU8.copyWithin): mke2fs -d makes ~10 such copies
 * per file (4 KiB blocks through unix_io's cache, directory and bitmap
 * blocks), 1.9 million calls out of WebAssembly for 200,000 empty files.
 * Compiled with -mbulk-memory, the copy is WebAssembly's memory.copy, in
 * place; smaller copies stay libc's. The same bytes are copied either way. */
#include <stddef.h>
void *__real_memcpy(void *restrict dest, const void *restrict src, size_t n);
void *__wrap_memcpy(void *restrict dest, const void *restrict src, size_t n)
{
	if (n < 512)
		return __real_memcpy(dest, src, n);
	__builtin_memcpy(dest, src, n);
	return dest;
}
