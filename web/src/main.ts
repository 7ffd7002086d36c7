// The page: loads the library's published entry and the WASM core, then mounts three sections.
import * as mlakit from "mlakit";
import { loadBackends } from "./backends.js";
import { mountBenchSection } from "./bench-section.js";
import { byId } from "./dom.js";
import { mountKvSection } from "./kv-section.js";
import { state } from "./state.js";
import { mountVerifySection } from "./verify-section.js";

async function main(): Promise<void> {
  state.entryExports = Object.keys(mlakit).sort();
  const backends = await loadBackends();
  state.backends = backends.map((b) => ({ name: b.backend.name, build: b.build, precision: b.backend.precision }));
  byId("status").textContent =
    `Library entry loaded (${state.entryExports.length} exports). Backends: ` +
    backends.map((b) => `${b.backend.name} (${b.backend.precision}${b.build ? `, ${b.build} build` : ""})`).join(", ") + ".";
  const redrawAnalysis = mountKvSection();
  mountBenchSection(backends, redrawAnalysis);
  mountVerifySection(backends);
  byId("footer").textContent = `mlakit in ${navigator.userAgent}`;
  document.body.dataset.state = "ready";
}

main().catch((e) => {
  state.errors.push(String(e));
  byId("status").textContent = `Failed to start: ${String(e)}`;
  byId("status").classList.add("error");
  document.body.dataset.state = "error";
});
