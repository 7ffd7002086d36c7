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
  const { backends, relaxedValidates } = await loadBackends();
  state.relaxedValidates = relaxedValidates;
  state.backends = backends.map((b) => ({ name: b.backend.name, label: b.label, build: b.build, chosen: b.chosen, precision: b.backend.precision }));
  byId("status").textContent =
    "Backends: " +
    backends.map((b) => `${b.label} ${b.backend.precision}${b.chosen ? " — the build the loader chose here" : ""}`).join(", ") + ".";
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
