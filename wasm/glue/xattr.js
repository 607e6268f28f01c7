// --js-library for emscripten 3.1.6: the JS half of wasm/shim/xattr.c. The host
// (src/fs/wasm/host.ts) sets Module.xattrHost = { list(path) -> Uint8Array (NUL-terminated
// names), get(path, name) -> Uint8Array }, throwing FS.ErrnoError (ENOENT, ENODATA, ...);
// without a host nothing has xattrs. Returns the length, or -errno as the C side expects.
mergeInto(LibraryManager.library, {
  $repartXattrCopy: function(data, buf, size) {
    size = size >>> 0;
    if (size === 0) return data.length;
    if (data.length > size) return -{{{ cDefine('ERANGE') }}};
    HEAPU8.set(data, buf);
    return data.length;
  },
  repart_xattr_list__deps: ['$FS', '$repartXattrCopy'],
  repart_xattr_list: function(path, list, size) {
    try {
      var h = Module['xattrHost'];
      if (!h) return 0;
      return repartXattrCopy(h.list(UTF8ToString(path)), list, size);
    } catch (e) {
      if (typeof FS == 'undefined' || !(e instanceof FS.ErrnoError)) throw e;
      return -e.errno;
    }
  },
  repart_xattr_get__deps: ['$FS', '$repartXattrCopy'],
  repart_xattr_get: function(path, name, value, size) {
    try {
      var h = Module['xattrHost'];
      if (!h) return -{{{ cDefine('ENODATA') }}};
      return repartXattrCopy(h.get(UTF8ToString(path), UTF8ToString(name)), value, size);
    } catch (e) {
      if (typeof FS == 'undefined' || !(e instanceof FS.ErrnoError)) throw e;
      return -e.errno;
    }
  },
});
