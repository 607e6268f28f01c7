// --js-library for emscripten 3.1.6: 64-bit file offsets and fsync.
// Stock fd_pread/fd_pwrite drop the high 32 bits of the offset and pass the low half as a
// *signed* int, so positioned I/O beyond 2 GiB fails or lands at (offset mod 4 GiB)
// (seen: `-E offset=4.5GiB` wrote at 0.5 GiB). Formatting anything > 2 GiB needs this.
mergeInto(LibraryManager.library, {
  fd_pwrite__deps: ['$SYSCALLS', '$FS'],
  fd_pwrite: function(fd, iov, iovcnt, {{{ defineI64Param('offset') }}}, pnum) {
    try {
      {{{ receiveI64ParamAsI32s('offset') }}}
      var stream = SYSCALLS.getStreamFromFD(fd);
      var pos = offset_high * 4294967296 + (offset_low >>> 0);
      var num = SYSCALLS.doWritev(stream, iov, iovcnt, pos);
      {{{ makeSetValue('pnum', 0, 'num', 'i32') }}};
      return 0;
    } catch (e) {
      if (typeof FS == 'undefined' || !(e instanceof FS.ErrnoError)) throw e;
      return e.errno;
    }
  },
  fd_pread__deps: ['$SYSCALLS', '$FS'],
  fd_pread: function(fd, iov, iovcnt, {{{ defineI64Param('offset') }}}, pnum) {
    try {
      {{{ receiveI64ParamAsI32s('offset') }}}
      var stream = SYSCALLS.getStreamFromFD(fd);
      var pos = offset_high * 4294967296 + (offset_low >>> 0);
      var num = SYSCALLS.doReadv(stream, iov, iovcnt, pos);
      {{{ makeSetValue('pnum', 0, 'num', 'i32') }}};
      return 0;
    } catch (e) {
      if (typeof FS == 'undefined' || !(e instanceof FS.ErrnoError)) throw e;
      return e.errno;
    }
  },
  // fsync(): stock 3.1.6 ignores it for NODERAWFS streams. Hand it to the host (FS.fsync, set
  // by src/fs/wasm), which flushes its write-back cache; no host fsync (the image is synced
  // once, by the image writer, when it is complete).
  fd_sync__deps: ['$SYSCALLS', '$FS'],
  fd_sync: function(fd) {
    try {
      var stream = SYSCALLS.getStreamFromFD(fd);
      if (FS.fsync) FS.fsync(stream);
      return 0;
    } catch (e) {
      if (typeof FS == 'undefined' || !(e instanceof FS.ErrnoError)) throw e;
      return e.errno;
    }
  },
  // fallocate(): stock 3.1.6 drops `mode`, so punch-hole/zero-range cannot be told from
  // allocation. Pass it on to FS.allocate (the host's window device implements the modes).
  __syscall_fallocate__deps: ['$SYSCALLS', '$FS'],
  __syscall_fallocate: function(fd, mode, off_low, off_high, len_low, len_high) {
    try {
      var stream = SYSCALLS.getStreamFromFD(fd);
      var offset = off_high * 4294967296 + (off_low >>> 0);
      var len = len_high * 4294967296 + (len_low >>> 0);
      FS.allocate(stream, offset, len, mode);
      return 0;
    } catch (e) {
      if (typeof FS == 'undefined' || !(e instanceof FS.ErrnoError)) throw e;
      return -e.errno;
    }
  },
});
