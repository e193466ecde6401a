// Entry point of the WASM module: re-exports every kernel. See assembly/README.md for the ABI.
export function heapBase(): usize {
  return __heap_base;
}
