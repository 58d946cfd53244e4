/**
 * The module Piscina loads in every worker (its `filename`). Piscina looks a task's handler up as
 * `module[name]` and caches it per name; here `module` is a table that makes the handler for any
 * task key (see `task-key.ts`) on first look-up. The wrapper itself is ES modules
 * (`runtime.js`), loaded once.
 *
 * Invariants: `__esModule` answers true (Piscina then uses this table as is) and `then` answers
 * nothing (the table is not a thenable); every other string is a task key.
 */
type Handler = (input: unknown, order: number) => unknown;
interface Runtime {
  handlerFor(key: string): Handler | Promise<Handler>;
}

let runtime: Runtime | undefined;
const loading: Promise<Runtime> = import('./runtime.js').then((loaded: Runtime) => (runtime = loaded));

module.exports = new Proxy(
  {},
  {
    // Piscina awaits what this returns, so a handler handed over before the wrapper (or the
    // user's module) has loaded is a promise of it: the worker reports ready only once loaded.
    get(_table, key) {
      if (key === '__esModule') return true;
      if (typeof key !== 'string' || key === 'then') return undefined;
      return runtime ? runtime.handlerFor(key) : loading.then((loaded) => loaded.handlerFor(key));
    },
  },
);
