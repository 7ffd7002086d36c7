// Verification of the bundled official vectors in this browser: verifyCase (src/verify.ts, the
// same function `mlakit verify` runs) for every backend the page loaded, pass/fail per case.
import { type VectorCase, vectorTolerance, verifyCase } from "mlakit";
import type { PageBackend } from "./backends.js";
import { byId, el, sci, table } from "./dom.js";
import { type VerifyRow, state } from "./state.js";
import { VECTOR_FILES, loadVectorCases } from "./vectors.js";

export function mountVerifySection(backends: PageBackend[]): void {
  const button = el("button", { id: "verify-run" }, "Verify official vectors");
  const out = byId("verify-result");
  byId("verify-controls").append(
    button,
    el("span", { class: "note" }, `${VECTOR_FILES.length} cases from DeepSeek-V3's unmodified inference/model.py; both paths, outputs and caches, within the same tolerance as mlakit verify.`),
  );
  let cases: VectorCase[] | null = null;
  button.addEventListener("click", async () => {
    button.disabled = true;
    delete document.body.dataset.verify;
    state.verify = null;
    out.replaceChildren(el("p", {}, "Running…"));
    try {
      cases ??= await loadVectorCases();
      const rows: VerifyRow[] = [];
      for (const { backend, label } of backends) {
        for (const c of cases) {
          const r = await verifyCase(backend, c, vectorTolerance(backend.precision)); // as `mlakit verify`
          rows.push({ backend: label, name: r.name, pass: r.pass, maxAbsErr: { ...r.maxAbsErr }, tolerance: r.tolerance });
        }
      }
      state.verify = rows;
      render(out, rows);
    } catch (e) {
      state.errors.push(`verify: ${String(e)}`);
      out.replaceChildren(el("p", { class: "error" }, String(e)));
    } finally {
      button.disabled = false;
      document.body.dataset.verify = state.verify ? "done" : "error";
    }
  });
}

function render(out: HTMLElement, rows: VerifyRow[]): void {
  const passed = rows.filter((r) => r.pass).length;
  const cols = ["naive", "absorbed", "naiveCache", "absorbedCache", "freqs"] as const;
  out.replaceChildren(
    table(
      ["backend", "case", "naive", "absorbed", "naive cache", "absorbed cache", "freqs", "result"],
      rows.map((r) => [r.backend, r.name, ...cols.map((k) => sci(r.maxAbsErr[k])), el("span", { class: r.pass ? "pass" : "fail" }, r.pass ? "pass" : "FAIL")]),
      2,
    ),
    el(
      "p",
      { class: passed === rows.length ? "pass" : "fail", id: "verify-summary" },
      `${passed}/${rows.length} pass (max |error| <= ${[...new Set(rows.map((r) => `${r.tolerance} for ${r.backend}`))].join(", ")}, as mlakit verify)`,
    ),
  );
}
