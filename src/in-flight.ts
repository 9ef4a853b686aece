/**
 * The requests (or calls) in flight, by number, for a structure that lives as long as the process
 * and gains and loses an entry on every request: the gateway's open responses, the usage writes
 * under way, the SQLite worker's unanswered calls, the PostgreSQL leases' holds by request.
 *
 * Not a Map or a Set, because of how V8 collects them. A Map or Set retires its hash table when it
 * grows or sheds deleted entries, and the retired table keeps every entry it held and a pointer to
 * the table that replaced it (live iterators follow it). While the table is young that is free.
 * Once a full collection under load has moved it to the old generation, each retired table is old
 * garbage that the young generation's collector still treats as a root: its successor and every
 * request it holds survive, are promoted, retire in turn, and so on until the next full
 * collection, which starts the chain again. Measured under load (bench/gc-promotion.ts): 4.5-5 KB
 * of every request promoted instead of 0.1-0.5, and young collections twice as long.
 *
 * The entries live in a null-prototype object keyed by their ids: V8 keeps them as elements
 * (integer ids) or as a dictionary (a request's id), whose old backing stores point nowhere once
 * replaced, so a finished request's objects die young. Integer ids iterate in ascending order and
 * other ids in the order they were added: `values()` yields the oldest first, provided string ids
 * never look like integers (a request's id never does: request-id.ts).
 * A string id itself still goes to the old generation (V8 keeps a property name there), ~70
 * bytes, but not the entry it names.
 */
export interface InFlight<V, K extends number | string = number> {
  /** Adds `value` under a new id (ascending from 1), returned for `delete`. */
  add(value: V): number;
  /** Adds or replaces the entry for `id` (a request's id, or a positive integer the caller numbers). */
  set(id: K, value: V): void;
  get(id: K): V | undefined;
  has(id: K): boolean;
  /** Removes the entry for `id`; false if there was none. */
  delete(id: K): boolean;
  clear(): void;
  readonly size: number;
  /** The entries, oldest first (a copy: entries may be deleted while it is walked). */
  values(): V[];
  /** The same with their ids, which come back as strings. */
  entries(): Array<[string, V]>;
}

export function createInFlight<V, K extends number | string = number>(): InFlight<V, K> {
  let byId: Record<K, V> = Object.create(null);
  let size = 0;
  let lastId = 0;
  const set = (id: K, value: V) => {
    if (!(id in byId)) size++;
    byId[id] = value;
  };
  return {
    add(value) {
      const id = ++lastId;
      set(id as K, value);
      return id;
    },
    set,
    get: (id) => byId[id],
    has: (id) => id in byId,
    delete(id) {
      if (!(id in byId)) return false;
      delete byId[id];
      size--;
      return true;
    },
    clear() {
      byId = Object.create(null);
      size = 0;
    },
    get size() {
      return size;
    },
    values: () => Object.values(byId),
    entries: () => Object.entries(byId),
  };
}
