// --pre-js (emscripten 3.1.6, Node >= 18). Runs inside the MODULARIZE factory.
// 1) Node 18+ has a global fetch(); 3.1.6 would then fetch() the .wasm by file path and fail.
//    (The JS host passes a compiled module through instantiateWasm anyway.)
var fetch = undefined;
// 2) getenv() only sees emscripten's synthetic ENV: fill it from Module.env (the job's
//    environment: SOURCE_DATE_EPOCH, MKE2FS_CONFIG, E2FSPROGS_FAKE_TIME, ...), or from
//    process.env when run by hand. Keys not given are removed, so the host's environment
//    (LANG, USER, ...) cannot change the output.
Module['preRun'] = Module['preRun'] || [];
if (typeof Module['preRun'] === 'function') Module['preRun'] = [Module['preRun']];
Module['preRun'].push(function () {
  if (typeof ENV === 'undefined') return; // the program never calls getenv()
  var e = Module['env'] || process.env;
  if (Module['env']) for (var d in ENV) delete ENV[d];
  for (var k in e) if (e[k] != null) ENV[k] = String(e[k]);
});
