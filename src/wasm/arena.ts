// The layer's linear memory: a first-fit allocator over the module's memory with coalescing free
// blocks. Used at load (weights), when the cache or the scratch must grow (geometric, so rare),
// never per decode step. `memory.grow` detaches every view: `f32`/`u32` re-create them lazily.

import { CacheError } from "../errors.js";

const ALIGN = 64; // cache line: keeps v128 loads of panels and cache rows aligned

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

// ---- memory budget (edge runtimes cap an isolate's memory) ----------------------------
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

/**
 * The memory changes of one call (Arena.begin .. commit or rollback): blocks allocated during it,
 * blocks freed during it (the free waits for commit, so a rollback finds them as they were), and
 * what the owners do to undo their own pointers (onRollback), last first.
 */
interface ArenaTxn {
  made: Set<number>;
  deferred: number[];
  undo: (() => void)[];
  /** memory.grow waits for grow() (a call reserves everything first, then grows once). */
  lazy: boolean;
  /** Bytes counted against the budget when the call began (a rollback counts them again). */
  counted: number;
}

export class Arena {
  private budget: MemoryBudget | null = null;
  private top: number;
  private readonly base: number;
  /** Bytes counted against the budget: every page memory grew to, except pages a failed call grew and gave back. */
  private counted: number;
  private readonly freeList: { ptr: number; size: number }[] = [];
  private readonly sizes = new Map<number, number>();
  private f32View: Float32Array;
  private u32View: Uint32Array;
  private txn: ArenaTxn | null = null;
  /** Number of memory.grow calls so far (tests use it to prove growth happened mid-use). */
  grows = 0;

  constructor(readonly memory: WebAssembly.Memory, heapBase: number) {
    this.base = this.top = alignUp(heapBase);
    this.counted = memory.buffer.byteLength;
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

  /**
   * Byte pointer to `bytes` bytes (64-aligned). Throws CacheError when the budget or the runtime
   * refuses the memory; then nothing changed. Inside a call (begin) memory grows at grow().
   */
  alloc(bytes: number): number {
    const size = alignUp(Math.max(bytes, 1));
    if (!Number.isSafeInteger(size)) throw new CacheError("wasm memory", bytes, "an allocation this runtime can make");
    for (let i = 0; i < this.freeList.length; i++) {
      const f = this.freeList[i];
      if (f.size >= size) {
        const ptr = f.ptr;
        if (f.size === size) this.freeList.splice(i, 1);
        else {
          f.ptr += size;
          f.size -= size;
        }
        return this.handOut(ptr, size);
      }
    }
    const ptr = this.top;
    const end = ptr + size;
    const counted = Math.max(this.counted, Math.ceil(end / 65536) * 65536); // the pages the heap spans
    if (this.budget) checkBudget(this.budget, counted - this.counted);
    if (!this.txn?.lazy) this.growTo(end);
    this.top = end;
    this.setCounted(counted);
    return this.handOut(ptr, size);
  }

  private handOut(ptr: number, size: number): number {
    this.sizes.set(ptr, size);
    this.txn?.made.add(ptr);
    return ptr;
  }

  private setCounted(counted: number): void {
    if (this.budget) this.budget.usedBytes += counted - this.counted;
    this.counted = counted;
  }

  private growTo(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / 65536);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new CacheError("wasm memory", have + pages * 65536, `at most what this runtime allows for one WebAssembly memory (grow failed: ${(e as Error).message})`);
    }
    this.grows++;
  }

  // ---- calls: all or nothing -------------------------------------------------------------

  /**
   * Start a call's memory changes. Until grow(), allocations only reserve (the budget is checked,
   * memory does not grow), so a call refused for memory grows nothing; frees wait for commit().
   * rollback() gives back every block the call took and runs the owners' undo steps, so a failed
   * call leaves the arena and the budget as they were. memory.grow cannot shrink: pages grown by
   * a call that then failed (a value refused after its memory was reserved) stay this arena's
   * headroom, uncounted until the arena uses them again.
   */
  begin(): void {
    if (this.txn) throw new CacheError("wasm memory", "in a call", "one call at a time on an arena");
    this.txn = { made: new Set(), deferred: [], undo: [], lazy: true, counted: this.counted };
  }

  /** Grow memory to hold every allocation so far (CacheError when the runtime refuses); later allocations of the call grow at once. */
  grow(): void {
    this.growTo(this.top);
    if (this.txn) this.txn.lazy = false;
  }

  /** Undo step of an owner, run by rollback() (last registered first). Outside a call: nothing to undo. */
  onRollback(undo: () => void): void {
    this.txn?.undo.push(undo);
  }

  /** The call succeeded: carry out its frees. */
  commit(): void {
    const t = this.txn;
    if (!t) return;
    this.txn = null;
    for (const ptr of t.deferred) this.release(ptr);
  }

  /** The call failed: the owners undo, then every block it took is given back; its frees are dropped. */
  rollback(): void {
    const t = this.txn;
    if (!t) return;
    this.txn = null;
    for (let i = t.undo.length - 1; i >= 0; i--) t.undo[i]();
    for (const ptr of t.made) this.release(ptr);
    this.setCounted(t.counted);
  }

  /** Count this arena's memory against `budget` from now on; CacheError when it does not fit. */
  attachBudget(budget: MemoryBudget): void {
    this.counted = Math.max(this.counted, this.memory.buffer.byteLength);
    checkBudget(budget, this.counted);
    budget.usedBytes += this.counted;
    this.budget = budget;
  }

  /** Give this arena's memory back to its budget (its layer is being dropped). */
  releaseBudget(): void {
    if (!this.budget) return;
    this.budget.usedBytes -= this.counted;
    this.budget = null;
  }

  /** Bytes in use on this arena's budget, all its layers together (undefined: no budget). */
  budgetUsedBytes(): number | undefined {
    return this.budget?.usedBytes;
  }

  /** Bytes the budget counts for this arena: its linear memory, less pages a failed call grew (see begin). */
  bytesCounted(): number {
    return this.counted;
  }

  /** Bytes for n float32s. */
  allocF32(n: number): number {
    return this.alloc(n * 4);
  }

  /** Free a block; inside a call, a block from before the call is freed at commit (rollback keeps it). */
  free(ptr: number): void {
    if (!this.sizes.has(ptr)) throw new CacheError("arena pointer", ptr, "a pointer returned by alloc and not yet freed");
    const t = this.txn;
    if (t && !t.made.delete(ptr)) {
      if (!t.deferred.includes(ptr)) t.deferred.push(ptr);
      return;
    }
    this.release(ptr);
  }

  private release(ptr: number): void {
    const size = this.sizes.get(ptr)!;
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
