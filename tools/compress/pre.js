// --pre-js for the codec modules (emscripten 3.1.6 under Node >= 18), inside the MODULARIZE
// factory. Node 18+ has a global fetch(); 3.1.6 would then fetch() the .wasm by file path
// and fail. src/compress passes an already compiled module through instantiateWasm anyway.
var fetch = undefined;
