// Node only: mla-vectors/2 case files on disk (the CLI's `mlakit verify DIR`). A path names the
// V3.2 cases when it is such a file or a directory holding one; a file is recognised by its
// "format" near the start (the generator writes it first; a file that hides it further down is
// read by the mla-vectors/1 reader, which names the format it found). Only regular files are
// read (a FIFO or a device is a FormatError, never a hang), each under a size cap.
import { closeSync, constants, openSync, readSync } from "node:fs";
import { basename, join } from "node:path";
import { type DsaVectorCase, MLA_VECTORS_V2_FORMAT, parseDsaVectorCaseText } from "./mla-vectors-v2.js";
import { listDirectory, probeKind, readRegularFileSync } from "./regular-file.js";

/** A case JSON above this size is refused unread (the largest bundled V3.2 case is 7.8 MB; V8 strings end near 512 MiB). */
export const MAX_DSA_CASE_BYTES = 256 * 2 ** 20;

/** How much of a file the format sniff reads. */
const SNIFF_BYTES = 4096;

/** A regular file whose first bytes say "format": "mla-vectors/2" (opened non-blocking: a FIFO is never waited on). */
function sniffsV2(file: string): boolean {
  if (probeKind(file) !== "file") return false;
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
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
 * null when the path names none (it is then read as mla-vectors/1, which reports what is wrong).
 */
export function dsaCaseFiles(path: string): string[] | null {
  const kind = probeKind(path);
  if (kind === "file") return path.endsWith(".json") && sniffsV2(path) ? [path] : null;
  if (kind !== "directory") return null;
  const files = listDirectory(path, "case directory").filter((f) => f.endsWith(".json")).map((f) => join(path, f));
  return files.some(sniffsV2) ? files : null;
}

/** Read and parse one case file: a regular file under MAX_DSA_CASE_BYTES (src/io/regular-file.ts), else a FormatError naming it. */
export function loadDsaCaseFile(file: string): DsaVectorCase {
  return parseDsaVectorCaseText(readRegularFileSync(file, "case file", MAX_DSA_CASE_BYTES).toString("utf8"), basename(file));
}
