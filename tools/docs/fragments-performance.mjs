// @ts-check
// docs/performance.md's figures.
/** @param {import("./results.mjs").Results} r @returns {Record<string, string>} */
export function performanceFragments(r) {
  return {};
}
