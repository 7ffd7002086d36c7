// The layer's linear memory: a first-fit allocator over the module's memory with coalescing free
// blocks. Used at load (weights), when the cache or the scratch must grow (geometric, so rare),
// never per decode step. `memory.grow` detaches every view: `f32`/`u32` re-create them lazily.

import { CacheError } from "../errors.js";

const ALIGN = 64; // cache line: keeps v128 loads of panels and cache rows aligned

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

// ---- memory budget (issue 8: edge runtimes cap an isolate's memory) -------------------------
/** A cap shared by the arenas of one backend's layers. */
export interface MemoryBudget {
  /** Most bytes of linear memory the arenas on this budget may hold together. */
  readonly limitBytes: number;
  /** Bytes they hold now. */
  usedBytes: number;
  /** Where the limit comes from, for error messages. */
  readonly source: string;
}

function checkBudget(b: MemoryBudget, extraBytes: number): void {
  if (b.usedBytes + extraBytes > b.limitBytes) {
    throw new CacheError("wasm memory of all layers", b.usedBytes + extraBytes, `at most ${b.limitBytes} bytes (${b.source}); ${b.usedBytes} B are in use, this step needs ${extraBytes} B more`);
  }
}
// ---------------------------------------------------------------------------------------------

export class Arena {
  private budget: MemoryBudget | null = null;
  private top: number;
  private readonly base: number;
  private readonly freeList: { ptr: number; size: number }[] = [];
  private readonly sizes = new Map<number, number>();
  private f32View: Float32Array;
  private u32View: Uint32Array;
  /** Number of memory.grow calls so far (tests use it to prove growth happened mid-use). */
  grows = 0;

  constructor(readonly memory: WebAssembly.Memory, heapBase: number) {
    this.base = this.top = alignUp(heapBase);
    this.f32View = new Float32Array(memory.buffer);
    this.u32View = new Uint32Array(memory.buffer);
  }

  /** Whole-memory Float32Array, re-created after memory.grow. Index = byte pointer >> 2. */
  get f32(): Float32Array {
    if (this.f32View.buffer !== this.memory.buffer) this.f32View = new Float32Array(this.memory.buffer);
    return this.f32View;
  }
  get u32(): Uint32Array {
    if (this.u32View.buffer !== this.memory.buffer) this.u32View = new Uint32Array(this.memory.buffer);
    return this.u32View;
  }

  /** Byte pointer to `bytes` bytes (64-aligned). Throws CacheError when memory cannot grow. */
  alloc(bytes: number): number {
    const size = alignUp(Math.max(bytes, 1));
    for (let i = 0; i < this.freeList.length; i++) {
      const f = this.freeList[i];
      if (f.size >= size) {
        const ptr = f.ptr;
        if (f.size === size) this.freeList.splice(i, 1);
        else {
          f.ptr += size;
          f.size -= size;
        }
        this.sizes.set(ptr, size);
        return ptr;
      }
    }
    const ptr = this.top;
    const end = ptr + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / 65536);
      if (this.budget) checkBudget(this.budget, pages * 65536);
      try {
        this.memory.grow(pages);
      } catch (e) {
        throw new CacheError("wasm memory", have + pages * 65536, `at most what this runtime allows for one WebAssembly memory (grow failed: ${(e as Error).message})`);
      }
      this.grows++;
      if (this.budget) this.budget.usedBytes += pages * 65536;
    }
    this.top = end;
    this.sizes.set(ptr, size);
    return ptr;
  }

  /** Count this arena's memory against `budget` from now on; CacheError when it does not fit. */
  attachBudget(budget: MemoryBudget): void {
    const have = this.memory.buffer.byteLength;
    checkBudget(budget, have);
    budget.usedBytes += have;
    this.budget = budget;
  }

  /** Give this arena's memory back to its budget (its layer is being dropped). */
  releaseBudget(): void {
    if (!this.budget) return;
    this.budget.usedBytes -= this.memory.buffer.byteLength;
    this.budget = null;
  }

  /** Bytes for n float32s. */
  allocF32(n: number): number {
    return this.alloc(n * 4);
  }

  free(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new CacheError("arena pointer", ptr, "a pointer returned by alloc and not yet freed");
    this.sizes.delete(ptr);
    let i = 0;
    while (i < this.freeList.length && this.freeList[i].ptr < ptr) i++;
    this.freeList.splice(i, 0, { ptr, size });
    // coalesce with the next, then the previous block
    const cur = this.freeList[i];
    const next = this.freeList[i + 1];
    if (next && cur.ptr + cur.size === next.ptr) {
      cur.size += next.size;
      this.freeList.splice(i + 1, 1);
    }
    const prev = this.freeList[i - 1];
    if (prev && prev.ptr + prev.size === cur.ptr) {
      prev.size += cur.size;
      this.freeList.splice(i, 1);
      i--;
    }
    const last = this.freeList[this.freeList.length - 1];
    if (last && last.ptr + last.size === this.top) {
      this.top = last.ptr;
      this.freeList.pop();
    }
  }

  /** Bytes handed out and not freed. */
  bytesInUse(): number {
    let n = 0;
    for (const s of this.sizes.values()) n += s;
    return n;
  }

  /** Bytes of linear memory (including free blocks and the module's static data). */
  bytesReserved(): number {
    return this.memory.buffer.byteLength;
  }

  /** Bytes between the top of the heap and the end of memory (allocations beyond it grow memory). */
  headroom(): number {
    return this.memory.buffer.byteLength - this.top;
  }

  /** Size of the block at ptr (after alignment). */
  sizeOf(ptr: number): number {
    return this.sizes.get(ptr) ?? 0;
  }

  /** Forget every block (the memory itself cannot shrink). */
  reset(): void {
    this.sizes.clear();
    this.freeList.length = 0;
    this.top = this.base;
  }
}
