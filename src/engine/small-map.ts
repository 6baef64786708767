/** `Map`'s own key equality (SameValueZero). */
const same = (a: unknown, b: unknown) => a === b || (a !== a && b !== b);

/**
 * A `Map` for the tables Socket.IO keeps per connection and that almost always hold one entry or
 * none: a client's namespace sockets (by id and by name) and a socket's pending acknowledgements.
 * V8 gives every `new Map()` a hash table for four entries at once (about 180 bytes); this keeps
 * a single entry in two fields (about 40 bytes) and moves to a real `Map` from the second on.
 *
 * Iteration walks a copy of the entries, so deleting while iterating (as a client closing its
 * sockets does) visits what was there when the walk began.
 */
export class SmallMap<K, V> implements Map<K, V> {
  private key: K | undefined = undefined;
  private value: V | undefined = undefined;
  private state: 0 | 1 | Map<K, V> = 0;

  constructor(entries?: Iterable<readonly [K, V]>) {
    if (entries) for (const [key, value] of entries) this.set(key, value);
  }

  get size(): number {
    return typeof this.state === 'number' ? this.state : this.state.size;
  }

  get(key: K): V | undefined {
    if (typeof this.state !== 'number') return this.state.get(key);
    return this.state === 1 && same(this.key, key) ? this.value : undefined;
  }

  has(key: K): boolean {
    if (typeof this.state !== 'number') return this.state.has(key);
    return this.state === 1 && same(this.key, key);
  }

  set(key: K, value: V): this {
    if (typeof this.state !== 'number') {
      this.state.set(key, value);
    } else if (this.state === 0 || same(this.key, key)) {
      this.key = key;
      this.value = value;
      this.state = 1;
    } else {
      this.state = new Map([[this.key as K, this.value as V], [key, value]]);
      this.key = this.value = undefined;
    }
    return this;
  }

  delete(key: K): boolean {
    if (typeof this.state !== 'number') return this.state.delete(key);
    if (this.state === 0 || !same(this.key, key)) return false;
    this.clear();
    return true;
  }

  clear(): void {
    this.key = this.value = undefined;
    this.state = 0;
  }

  private snapshot(): [K, V][] {
    if (typeof this.state !== 'number') return [...this.state];
    return this.state === 1 ? [[this.key as K, this.value as V]] : [];
  }

  forEach(callback: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.snapshot()) callback.call(thisArg, value, key, this);
  }

  entries(): MapIterator<[K, V]> {
    return this.snapshot()[Symbol.iterator]();
  }

  keys(): MapIterator<K> {
    return this.snapshot().map(([key]) => key)[Symbol.iterator]();
  }

  values(): MapIterator<V> {
    return this.snapshot().map(([, value]) => value)[Symbol.iterator]();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Map';
  }
}
