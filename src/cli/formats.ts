// Cache storage format names on the command line: the latent cache's own names (src/cache/layout.ts
// STORAGE_FORMATS), the same for every command, with one alias, "fp8" for fp8_e4m3 (FlashMLA's name).
import { type CacheFormat } from "../analysis/formats.js";
import { STORAGE_FORMATS, type StorageFormat } from "../cache/layout.js";
import { closest } from "./args.js";
import { UsageError } from "./io.js";

export const FORMAT_ALIASES: Readonly<Record<string, StorageFormat>> = { fp8: "fp8_e4m3" };

/** As the help shows them. */
export const CLI_FORMAT_NAMES = `${STORAGE_FORMATS.join("|")} (fp8 = fp8_e4m3)`;

export function cacheFormatFlag(flag: string, raw: unknown): StorageFormat {
  const s = String(raw);
  if (Object.prototype.hasOwnProperty.call(FORMAT_ALIASES, s)) return FORMAT_ALIASES[s];
  if ((STORAGE_FORMATS as readonly string[]).includes(s)) return s as StorageFormat;
  const near = closest(s, STORAGE_FORMATS);
  throw new UsageError(`--${flag} ${JSON.stringify(s)}: expected one of ${STORAGE_FORMATS.join(", ")} (fp8 for fp8_e4m3)${near ? `; did you mean ${near}?` : ""}`);
}

/** The cost model's name for a storage format (src/analysis/formats.ts calls fp8_e4m3 "fp8"). */
export function toAnalysisFormat(f: StorageFormat): CacheFormat {
  return f === "fp8_e4m3" ? "fp8" : f;
}
