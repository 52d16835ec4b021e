/**
 * What makes the session take no new property. A value assigned to a name
 * the session does not have (`session.user = x`, the pattern of
 * `@fastify/session` and `@fastify/oauth2`'s README) would never be saved,
 * so the assignment throws a TypeError at once instead of losing the write
 * without a word. It costs nothing per request: everything is set up once,
 * on the prototype.
 */

/**
 * The last link of a session's prototype chain before `Object.prototype`,
 * made once. Every member of the session is found before it, so only an
 * assignment to a name that the session does not have reaches its `set`
 * trap, which throws a TypeError: in sloppy code too (a CommonJS app
 * without 'use strict'), where an assignment to a non-extensible object
 * would be dropped silently. Reads of unknown names pass through to
 * `Object.prototype`, so code that probes for a member (`session.data`)
 * gets `undefined`, as from any object.
 *
 * The session itself stays an ordinary object, without
 * `Object.preventExtensions()`: that costs a runtime call on every
 * request (about 30 ns per session, measured), and the trap already
 * refuses every new name that an assignment can give it.
 */
const unknownMember: object = new Proxy({}, {
  set (_target, name): never {
    const shown = typeof name === 'symbol' ? name.toString() : JSON.stringify(name)
    throw new TypeError(`The session has no property ${shown}, and takes no new one (it would not be saved): ` +
      (typeof name === 'symbol' ? 'keep data with session.set(key, value)' : `use session.set(${shown}, value), with the key in SessionData`))
  }
})

/**
 * Closes the session class's `prototype` to new properties: an assignment
 * to an unknown name throws a TypeError, each getter named in `readOnly`
 * throws on assignment, and the prototype is frozen so that no method can
 * be replaced. Call it once, on `Session.prototype`.
 */
export function refuseNewProperties (prototype: object, readOnly: readonly string[]): void {
  Object.setPrototypeOf(prototype, unknownMember)
  // The read-only members throw on assignment in sloppy code too, where a getter without a setter is ignored silently.
  for (const name of readOnly) {
    const { get } = Object.getOwnPropertyDescriptor(prototype, name) as { get: () => unknown }
    Object.defineProperty(prototype, name, {
      get,
      set (): never { throw new TypeError(`The session's ${name} is read-only`) },
      enumerable: false,
      configurable: false
    })
  }
  // Resolving a promise with a session looks up its `then`: found here, the lookup never
  // reaches the proxy above, which would cost each resolution about 70 ns (measured).
  Object.defineProperty(prototype, 'then', { value: undefined })
  // A method cannot be replaced: assigning one throws in strict code (sloppy code ignores it, as for any frozen object).
  Object.freeze(prototype)
}
