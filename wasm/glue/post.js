// --post-js (emscripten 3.1.6). Everything that can be done from outside lives in the typed
// JS host (src/fs/wasm); only what needs the factory's private scope is here.
(function () {
  // SYSCALLS.get64 keeps only the low word in 3.1.6, which breaks ftruncate/fallocate/fadvise
  // lengths >= 4 GiB (and makes those >= 2 GiB negative). Combine both halves.
  SYSCALLS.get64 = function (low, high) { return high * 4294967296 + (low >>> 0); };
  // The host needs ExitStatus to tell exit() from a crash, and the errno table.
  Module['ExitStatus'] = ExitStatus;
  Module['ERRNO_CODES'] = ERRNO_CODES;
})();
