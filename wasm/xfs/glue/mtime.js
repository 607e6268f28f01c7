// --js-library for emscripten 3.1.6: a source path's mtime with nanoseconds and 64-bit
// seconds, for wasm/xfs/ext/populate_dir.c (emscripten's stat() keeps 32-bit seconds and
// writes tv_nsec as 0). The host (src/fs/wasm/host.ts) sets Module.timesHost = { mtime(path)
// -> [sec, nsec] } (lstat semantics), throwing FS.ErrnoError. Returns 0, or -errno; without a
// host -ENOSYS, and the caller keeps what stat() gave.
mergeInto(LibraryManager.library, {
  repart_lstat_mtime__deps: ['$FS'],
  repart_lstat_mtime: function(path, secp, nsecp) {
    try {
      var h = Module['timesHost'];
      if (!h) return -{{{ cDefine('ENOSYS') }}};
      var t = h.mtime(UTF8ToString(path));
      {{{ makeSetValue('secp', 0, 't[0]', 'i64') }}};
      {{{ makeSetValue('nsecp', 0, 't[1]', 'i32') }}};
      return 0;
    } catch (e) {
      if (typeof FS == 'undefined' || !(e instanceof FS.ErrnoError)) throw e;
      return -e.errno;
    }
  },
});
