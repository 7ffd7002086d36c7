// Entry of build/probe-import-simd128.wasm: only the probe's read loops, over an imported memory
// (no other exports, so no static data is written into the memory it is given).
export { read, read4, read8 } from "../probe";
