// The bundled official vectors (vectors/deepseek-v3-mla/*.json), emitted by Vite as files and
// fetched at run time, then read by the library's own parser.
import { type VectorCase, parseVectorCaseText } from "mlakit";

const urls = import.meta.glob("../../vectors/deepseek-v3-mla/*.json", { query: "?url", import: "default", eager: true }) as Record<string, string>;

export const VECTOR_FILES = Object.keys(urls).sort();

export async function loadVectorCases(): Promise<VectorCase[]> {
  return Promise.all(
    VECTOR_FILES.map(async (file) => {
      const res = await fetch(urls[file]);
      if (!res.ok) throw new Error(`fetch ${file}: HTTP ${res.status}`);
      return parseVectorCaseText(await res.text(), file.split("/").pop());
    }),
  );
}
