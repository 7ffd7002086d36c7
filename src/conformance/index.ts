// The conformance kit: fast-check arbitraries for MLA and `checkBackend`, which runs the layer
// interface's promises against any Backend. Browser-safe (no Node built-ins).
export * from "./arbitraries.js";
export * from "./check-backend.js";
export { PROPERTY_NAMES, type ConformanceProperty, type PropertyContext } from "./properties.js";
export { badCall, badWeights } from "./bad-inputs.js";
export { type Measurement, type Tolerance, compare } from "./run-case.js";
export { type DsaCase, type DsaCheckOptions, type DsaPropertyResult, DSA_PROPERTY_NAMES, arbDsaCase, checkDsaBackend } from "./dsa.js";
export { type TracedCall, conditionedSteps, firstOutsideBf16Rounding, runConditioned } from "./dsa-conditioned.js";
