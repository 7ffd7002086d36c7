// Node-only: a ByteSource over a file handle, so a multi-gigabyte checkpoint is read by ranges
// (header, then each wanted tensor) and never loaded whole; sharded checkpoints through their
// index. Not exported from the browser entry (package subpath mlakit/safetensors-file).
import { open, readFile, readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { FormatError } from "../errors.js";
import { type ByteSource, type SafetensorsFile, type TensorInfo, openSafetensors } from "./safetensors.js";

export interface FileSource extends ByteSource {
  /** Bytes actually read so far (tests use it to prove laziness). */
  readonly bytesRead: number;
  close(): Promise<void>;
}

export async function fileSource(path: string): Promise<FileSource> {
  const fh = await open(path, "r");
  const size = (await fh.stat()).size;
  let bytesRead = 0;
  return {
    size,
    get bytesRead() {
      return bytesRead;
    },
    async read(offset, length) {
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead: n } = await fh.read(buf, done, length - done, offset + done);
        if (n === 0) break; // file shorter than it was: the caller reports it
        done += n;
      }
      bytesRead += done;
      return done === length ? buf : buf.subarray(0, done);
    },
    close: () => fh.close(),
  };
}

/** Open a .safetensors file lazily; call `close()` on the returned source when done. */
export async function openSafetensorsFile(path: string): Promise<{ file: SafetensorsFile; source: FileSource }> {
  const source = await fileSource(path);
  try {
    return { file: await openSafetensors(source, path), source };
  } catch (e) {
    await source.close();
    throw e;
  }
}

/** Several safetensors files seen as one store (a sharded Hugging Face checkpoint). */
export interface CheckpointStore {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  read(name: string): Promise<Float32Array | Float64Array>;
  /** The files actually opened (only those holding wanted tensors). */
  readonly files: string[];
  close(): Promise<void>;
}

/**
 * Open a checkpoint lazily: a .safetensors file, a model.safetensors.index.json ({"weight_map":
 * {tensor: file}}), or a directory holding either (or several .safetensors files). With `want`,
 * only files holding a wanted tensor are opened and only wanted tensors are listed, so loading
 * one layer of a 163-shard checkpoint opens the one or two shards that hold it.
 */
export async function openCheckpoint(path: string, want: (name: string) => boolean = () => true): Promise<CheckpointStore> {
  const st = await stat(path).catch(() => {
    throw new FormatError("checkpoint", path, "an existing .safetensors file, index .json or directory");
  });
  let files: string[];
  let owner: Map<string, string> | undefined; // tensor -> file, from an index
  if (st.isDirectory()) {
    const entries = (await readdir(path)).sort();
    const index = entries.find((f) => f.endsWith(".safetensors.index.json"));
    if (index) ({ files, owner } = await readIndex(join(path, index)));
    else {
      files = entries.filter((f) => f.endsWith(".safetensors")).map((f) => join(path, f));
      if (files.length === 0) throw new FormatError("checkpoint", path, "a directory with .safetensors files or a model.safetensors.index.json");
    }
  } else if (path.endsWith(".json")) ({ files, owner } = await readIndex(path));
  else files = [path];
  if (owner) files = files.filter((f) => [...owner!].some(([t, file]) => file === f && want(t)));

  const tensors = new Map<string, TensorInfo>();
  const where = new Map<string, { file: SafetensorsFile }>();
  const opened: FileSource[] = [];
  try {
    for (const f of files) {
      const { file, source } = await openSafetensorsFile(f);
      opened.push(source);
      for (const [name, info] of file.tensors) {
        if (!want(name)) continue;
        if (where.has(name)) throw new FormatError("checkpoint", name, `in one file only (found in two, the second is ${f})`);
        tensors.set(name, info);
        where.set(name, { file });
      }
    }
  } catch (e) {
    await Promise.all(opened.map((s) => s.close()));
    throw e;
  }
  return {
    tensors,
    files,
    read: (name) => {
      const w = where.get(name);
      if (!w) throw new FormatError("checkpoint tensor", name, "one of the opened tensors");
      return w.file.read(name);
    },
    close: async () => void (await Promise.all(opened.map((s) => s.close()))),
  };
}

async function readIndex(indexPath: string): Promise<{ files: string[]; owner: Map<string, string> }> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, "utf8"));
  } catch (e) {
    throw new FormatError(indexPath, (e as Error).message.slice(0, 60), "a safetensors index JSON ({\"weight_map\": {tensor: file}})");
  }
  const map = (json as { weight_map?: unknown })?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) throw new FormatError(`${indexPath}: weight_map`, map, "an object {tensor name: file name}");
  const owner = new Map<string, string>();
  const dir = dirname(indexPath);
  for (const [t, f] of Object.entries(map as Record<string, unknown>)) {
    if (typeof f !== "string" || f.includes("/") || f.includes("\\")) throw new FormatError(`${indexPath}: weight_map.${t}`, f, "a file name in the index's directory");
    owner.set(t, join(dir, f));
  }
  return { files: [...new Set(owner.values())].sort(), owner };
}
