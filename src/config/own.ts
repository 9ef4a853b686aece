/**
 * Names come from keys.yaml and from users (a request's `model`, `/disable-key NAME`,
 * `/admin/keys/NAME`), and `constructor`, `__proto__`, `toString` or `hasOwnProperty` are names
 * too. A plain object answers those from Object.prototype (`keys.constructor` is a function, and
 * assigning `models.__proto__` replaces the prototype instead of adding a model), so config
 * records are built without a prototype and every lookup by a name asks for own entries only.
 */

/** An empty record without a prototype: it holds exactly what is put in it, `__proto__` included. */
export function ownRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** `record[name]` when `name` is one of its own entries, else undefined. */
export function ownEntry<T>(record: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}
