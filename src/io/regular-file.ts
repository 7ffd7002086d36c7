// Node only: the one way mlakit opens a file a user names (the CLI, and the safetensors file
// source). A path is stat'ed first and anything but a regular file is refused before it is
// opened: a FIFO would block open() or read() forever, /dev/zero never ends, a directory or a
// socket cannot be read. The file is then opened non-blocking and fstat'ed again (the path may
// have changed in between), and a reader with a size cap refuses a larger file before reading a
// byte. Outputs must be regular files or new paths, replaced in one rename. Every refusal is a
// FormatError naming the role of the path, the path and what it was (no such file, a symbolic
// link loop, a FIFO, a character device, ...), so the CLI prints one line and exits 2.
import { type Stats, closeSync, constants, fstatSync, mkdirSync, openSync, readSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { FormatError } from "../errors.js";

export type PathKind = "file" | "directory" | "FIFO (named pipe)" | "socket" | "character device" | "block device" | "special file";

// Reading, O_NONBLOCK: opening a FIFO that slipped past the stat does not wait for a writer;
// O_NOCTTY: a terminal never becomes the controlling one (both 0 where the platform has none).
// Writing goes to a new temporary file (O_EXCL: never one that exists) renamed over the target.
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

export function kindOf(st: Stats): PathKind {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "directory";
  if (st.isFIFO()) return "FIFO (named pipe)";
  if (st.isSocket()) return "socket";
  if (st.isCharacterDevice()) return "character device";
  if (st.isBlockDevice()) return "block device";
  return "special file";
}

/** Why a file system call failed, in words (errno codes are not for users). */
function reason(e: unknown): string {
  const code = (e as { code?: string })?.code;
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "ELOOP":
      return "a symbolic link loop";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "a component of the path is not a directory";
    case "ENAMETOOLONG":
      return "the name is too long";
    case "EISDIR":
      return "a directory";
    case "ENXIO":
      return "a device or FIFO with no other end";
    default:
      return `${code ?? "error"}: ${(e as Error)?.message ?? String(e)}`;
  }
}

/** A FormatError naming the path's role, the path, what it should be and what it is. */
function refused(label: string, path: string, expected: string, found: string): FormatError {
  return new FormatError(label, path, expected, found);
}

/** What a path is, following symbolic links; undefined when it cannot be stat'ed (missing, a loop, ...). */
export function probeKind(path: string): PathKind | undefined {
  try {
    return kindOf(statSync(path));
  } catch {
    return undefined;
  }
}

/** What a path is, following symbolic links; a path that cannot be stat'ed is a FormatError saying why. */
export function pathKind(path: string, label: string, expected = "an existing file or directory"): { kind: PathKind; size: number } {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    throw refused(label, path, expected, reason(e));
  }
  return { kind: kindOf(st), size: st.size };
}

/** The path must be a regular file (of at most maxBytes bytes); returns its size. */
export function checkRegularFile(path: string, label: string, maxBytes = Infinity): number {
  const { kind, size } = pathKind(path, label, "a regular file");
  return checkStats(path, label, kind, size, maxBytes);
}

function checkStats(path: string, label: string, kind: PathKind, size: number, maxBytes: number): number {
  if (kind !== "file") throw refused(label, path, "a regular file", `found a ${kind}`);
  if (size > maxBytes) throw refused(label, path, `a regular file of at most ${maxBytes} bytes`, `it has ${size} bytes`);
  return size;
}

/** The names in a directory (sorted); an unreadable one is a FormatError. */
export function listDirectory(path: string, label: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch (e) {
    throw refused(label, path, "a readable directory", reason(e));
  }
}

/** Read a whole regular file of at most maxBytes bytes (synchronously). */
export function readRegularFileSync(path: string, label: string, maxBytes: number): Buffer {
  checkRegularFile(path, label, maxBytes);
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (e) {
    throw refused(label, path, "a readable regular file", reason(e));
  }
  try {
    const st = fstatSync(fd);
    const size = checkStats(path, label, kindOf(st), st.size, maxBytes);
    const buf = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, done, size - done, done);
      if (n === 0) break; // shorter than it was: what is there is what was read
      done += n;
    }
    return done === size ? buf : buf.subarray(0, done);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw refused(label, path, "a readable regular file", reason(e));
  } finally {
    closeSync(fd);
  }
}

/** Open a regular file for reading by ranges (a safetensors checkpoint); the caller closes the handle. */
export async function openRegularFile(path: string, label: string): Promise<{ handle: FileHandle; size: number }> {
  checkRegularFile(path, label);
  let handle: FileHandle;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (e) {
    throw refused(label, path, "a readable regular file", reason(e));
  }
  try {
    const st = await handle.stat();
    return { handle, size: checkStats(path, label, kindOf(st), st.size, Infinity) };
  } catch (e) {
    await handle.close();
    throw e instanceof FormatError ? e : refused(label, path, "a readable regular file", reason(e));
  }
}

/** A path a command may write: a regular file (replaced) or a new path; anything else is a FormatError. Changes nothing. */
export function checkWritable(path: string, label: string): void {
  const kind = probeKind(path);
  if (kind !== undefined && kind !== "file") throw refused(label, path, "a regular file or a new path to write", `found a ${kind}`);
}

/**
 * Write a whole file: the path must be a regular file or not exist yet (never a FIFO, a device or
 * a directory). The bytes go to a new file beside it, which then replaces it in one rename (the
 * real file when the path is a symbolic link, keeping its mode), so a write that fails (disk full,
 * permission) leaves the old file as it was and no half-written one.
 */
export function writeRegularFileSync(path: string, data: string | Uint8Array, label: string): void {
  checkWritable(path, label);
  let target = path, mode = 0o666;
  if (probeKind(path) === "file") {
    target = realpathSync(path);
    mode = statSync(target).mode & 0o7777;
  }
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, WRITE_FLAGS, mode);
  } catch (e) {
    throw refused(label, path, "a writable path", reason(e));
  }
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, target);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw refused(label, path, "a writable path", reason(e));
  }
}

/** A path a command may write files into: a directory or a new path; anything else is a FormatError. Changes nothing. */
export function checkDirectoryTarget(path: string, label: string): void {
  const kind = probeKind(path);
  if (kind !== undefined && kind !== "directory") throw refused(label, path, "a directory (or a new path to create one)", `found a ${kind}`);
}

/** The path must be a directory, created (with its parents) when missing. */
export function ensureDirectory(path: string, label: string): void {
  checkDirectoryTarget(path, label);
  if (probeKind(path) === "directory") return;
  try {
    mkdirSync(path, { recursive: true });
  } catch (e) {
    throw refused(label, path, "a directory (or a new path to create one)", reason(e));
  }
}
