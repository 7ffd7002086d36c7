// Node-only: a ByteSource over a file handle, so a multi-gigabyte checkpoint is read by ranges
// (header, then each wanted tensor) and never loaded whole; sharded checkpoints through their
// index. Not exported from the browser entry (package subpath mlakit/safetensors-file).
// Every file goes through regular-file.ts: a FIFO, a device or a directory where a file should be
// is a FormatError naming it, before anything blocks or reads without end.
import { dirname, join } from "node:path";
import { FormatError } from "../errors.js";
import { listDirectory, pathKind, openRegularFile, readRegularFileSync } from "./regular-file.js";
import { type ByteSource, type SafetensorsFile, type TensorInfo, openSafetensors } from "./safetensors.js";
import { openGguf } from "./gguf.js";
import { deepseek2Config, ggufMlaStore } from "./mla-gguf.js";
import type { MlaConfig } from "../config.js";

/** An index JSON above this size is refused unread (DeepSeek-V3's, 91,991 tensors, is ~9 MB). */
export const MAX_INDEX_JSON_BYTES = 64 * 2 ** 20;

export interface FileSource extends ByteSource {
  /** Bytes actually read so far (tests use it to prove laziness). */
  readonly bytesRead: number;
  close(): Promise<void>;
}

/** `label` names the file's role in errors (default "safetensors file"). */
export async function fileSource(path: string, label = "safetensors file"): Promise<FileSource> {
  const { handle: fh, size } = await openRegularFile(path, label);
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
export async function openSafetensorsFile(path: string, label?: string): Promise<{ file: SafetensorsFile; source: FileSource }> {
  const source = await fileSource(path, label);
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
  readBytes(name: string): Promise<Uint8Array>;
  /** The files actually opened (only those holding wanted tensors). */
  readonly files: string[];
  /** A GGUF's own attention config (from its deepseek2 metadata); absent for safetensors. */
  readonly config?: MlaConfig;
  close(): Promise<void>;
}

/**
 * Open a checkpoint lazily: a .safetensors file, a model.safetensors.index.json ({"weight_map":
 * {tensor: file}}), or a directory holding either (or several .safetensors files). With `want`,
 * only files holding a wanted tensor are opened and only wanted tensors are listed, so loading
 * one layer of a 163-shard checkpoint opens the one or two shards that hold it. A .gguf file (a
 * deepseek2 model as llama.cpp's converter writes it) is seen under the official names
 * (src/io/mla-gguf.ts ggufMlaStore) and carries its config.
 */
export async function openCheckpoint(path: string, want: (name: string) => boolean = () => true): Promise<CheckpointStore> {
  const { kind } = pathKind(path, "checkpoint");
  if (kind !== "file" && kind !== "directory") throw new FormatError("checkpoint", path, "a .safetensors file, an index .json, a .gguf file or a directory", `found a ${kind}`);
  if (kind === "file" && path.endsWith(".gguf")) return openGgufCheckpoint(path, want);
  let files: string[];
  let owner: Map<string, string> | undefined; // tensor -> file, from an index
  let index: string | undefined;
  if (kind === "directory") {
    const entries = listDirectory(path, "checkpoint");
    const name = entries.find((f) => f.endsWith(".safetensors.index.json"));
    if (name) ({ files, owner } = readIndex((index = join(path, name))));
    else {
      files = entries.filter((f) => f.endsWith(".safetensors")).map((f) => join(path, f));
      if (files.length === 0) throw new FormatError("checkpoint", path, "a directory with .safetensors files or a model.safetensors.index.json");
    }
  } else if (path.endsWith(".json")) ({ files, owner } = readIndex((index = path)));
  else files = [path];
  if (owner) files = files.filter((f) => [...owner!].some(([t, file]) => file === f && want(t)));

  const tensors = new Map<string, TensorInfo>();
  const where = new Map<string, { file: SafetensorsFile }>();
  const opened: FileSource[] = [];
  try {
    for (const f of files) {
      const { file, source } = await openSafetensorsFile(f, index ? `checkpoint shard (named by ${index})` : "checkpoint file");
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
    readBytes: (name) => {
      const w = where.get(name);
      if (!w) throw new FormatError("checkpoint tensor", name, "one of the opened tensors");
      return w.file.readBytes(name);
    },
    close: async () => void (await Promise.all(opened.map((s) => s.close()))),
  };
}

async function openGgufCheckpoint(path: string, want: (name: string) => boolean): Promise<CheckpointStore> {
  const source = await fileSource(path, "GGUF file");
  try {
    const file = await openGguf(source, path);
    const config = deepseek2Config(file);
    const all = ggufMlaStore(file);
    const tensors = new Map([...all.tensors].filter(([name]) => want(name)));
    const opened = (name: string) => {
      if (!tensors.has(name)) throw new FormatError("checkpoint tensor", name, "one of the opened tensors");
    };
    return {
      tensors,
      files: [path],
      config,
      read: async (name) => (opened(name), all.read(name)),
      readBytes: async (name) => {
        opened(name);
        throw new FormatError("keepFp8", name, "a safetensors checkpoint: a GGUF's tensors are read as values (F16, BF16 and Q8_0 widen to float32 exactly)");
      },
      close: () => source.close(),
    };
  } catch (e) {
    await source.close();
    throw e;
  }
}

function readIndex(indexPath: string): { files: string[]; owner: Map<string, string> } {
  const text = readRegularFileSync(indexPath, "checkpoint index", MAX_INDEX_JSON_BYTES).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
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
