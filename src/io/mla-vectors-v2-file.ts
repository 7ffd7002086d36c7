// Node only: mla-vectors/2 case files on disk (the CLI's `mlakit verify DIR`). A path names the
// V3.2 cases when it is such a file or a directory holding one; a file is recognised by its
// "format" near the start (the generator writes it first; a file that hides it further down is
// read by the mla-vectors/1 reader, which names the format it found). Only regular files are
// read (a FIFO or a device is a FormatError, never a hang), each under a size cap.
import { closeSync, fstatSync, openSync, readSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { FormatError } from "../errors.js";
import { type DsaVectorCase, MLA_VECTORS_V2_FORMAT, parseDsaVectorCaseText } from "./mla-vectors-v2.js";

/** A case JSON above this size is refused unread (the largest bundled V3.2 case is 7.8 MB; V8 strings end near 512 MiB). */
export const MAX_DSA_CASE_BYTES = 256 * 2 ** 20;

/** How much of a file the format sniff reads. */
const SNIFF_BYTES = 4096;

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The file's first bytes say "format": "mla-vectors/2". */
function sniffsV2(file: string): boolean {
  if (!isRegularFile(file)) return false;
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const buf = Buffer.alloc(SNIFF_BYTES);
    const n = readSync(fd, buf, 0, SNIFF_BYTES, 0);
    return new RegExp(`"format"\\s*:\\s*"${MLA_VECTORS_V2_FORMAT}"`).test(buf.subarray(0, n).toString("utf8"));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The mla-vectors/2 case files a path names: the file itself when it is one, or every *.json of a
 * directory (sorted) when at least one of them is (the others then fail as malformed V3.2 cases);
 * null when the path names none (it is then read as mla-vectors/1).
 */
export function dsaCaseFiles(path: string): string[] | null {
  let st;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  if (st.isFile()) return path.endsWith(".json") && sniffsV2(path) ? [path] : null;
  if (!st.isDirectory()) return null;
  const files = readdirSync(path).filter((f) => f.endsWith(".json")).sort().map((f) => join(path, f));
  return files.some(sniffsV2) ? files : null;
}

/** Read and parse one case file: a regular file under MAX_DSA_CASE_BYTES, or a FormatError naming it. */
export function loadDsaCaseFile(file: string): DsaVectorCase {
  let fd: number | undefined;
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new FormatError("case file", file, "a regular file", st.isDirectory() ? "a directory" : "not a regular file (FIFO, device or socket)");
    fd = openSync(file, "r");
    const size = fstatSync(fd).size;
    if (size > MAX_DSA_CASE_BYTES) throw new FormatError("case file", file, `a file of <= ${MAX_DSA_CASE_BYTES} bytes`, `it has ${size}`);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    text = buf.subarray(0, got).toString("utf8");
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError("case file", file, "a readable file", (e as Error).message);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return parseDsaVectorCaseText(text, basename(file));
}
