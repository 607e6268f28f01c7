// --js-library for emscripten 3.1.6: the path an fd was opened with (FS stream path), for
// wasm/xfs/shim/xattr_fd.c. Returns 0, or -errno (EBADF; ENAMETOOLONG if it does not fit).
mergeInto(LibraryManager.library, {
  repart_fd_path__deps: ['$FS'],
  repart_fd_path: function(fd, buf, size) {
    var s = FS.getStream(fd);
    if (!s || !s.path) return -{{{ cDefine('EBADF') }}};
    if (lengthBytesUTF8(s.path) + 1 > size) return -{{{ cDefine('ENAMETOOLONG') }}};
    stringToUTF8(s.path, buf, size);
    return 0;
  },
});
