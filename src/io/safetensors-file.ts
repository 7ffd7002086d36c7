// Node-only: a ByteSource over a file handle, so a multi-gigabyte checkpoint is read by ranges
// (header, then each wanted tensor) and never loaded whole. Not exported from the browser entry.
import { open } from "node:fs/promises";
import { type ByteSource, type SafetensorsFile, openSafetensors } from "./safetensors.js";

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
