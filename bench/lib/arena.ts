// A bump allocator over one instance's linear memory, for the bench's own kernels (variants and
// probe use --runtime stub and allocate nothing). Starts above the module's initial memory, so
// static data is never overwritten; views are re-made after every grow (grow detaches them).
export class Arena {
  private readonly start: number;
  private top: number;
  constructor(readonly memory: WebAssembly.Memory) {
    this.start = this.top = memory.buffer.byteLength;
  }
  /** 64-byte aligned block of `bytes`. */
  alloc(bytes: number): number {
    const p = Math.ceil(this.top / 64) * 64; // not `& ~63`: pointers pass 2^31 (V3 naive cache)
    const end = p + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / 65536));
    this.top = end;
    return p;
  }
  /** Forget every block (memory stays grown and is reused). */
  reset(): void {
    this.top = this.start;
  }
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
  upload(data: Float32Array): number {
    const p = this.alloc(data.byteLength);
    this.f32(p, data.length).set(data);
    return p;
  }
}
