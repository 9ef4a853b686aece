/** A set that forgets everything when it grows past its bound: a cache, never the source of truth. */
export class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly max: number) {}
  has(v: string): boolean {
    return this.items.has(v);
  }
  add(v: string): void {
    if (this.items.size >= this.max) this.items.clear();
    this.items.add(v);
  }
  delete(v: string): void {
    this.items.delete(v);
  }
}
