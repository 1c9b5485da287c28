import { EventEmitter } from "node:events";

/** Event name → listener arguments, as in mediasoup's typed event maps. */
// biome-ignore lint/suspicious/noExplicitAny: listener argument lists are any tuple.
export type Events = Record<string, any[]>;

/**
 * An EventEmitter whose event names and listener arguments are checked by the compiler.
 * `safeEmit` calls each listener on its own so that a failing listener cannot stop the
 * others, nor the emitter (events come from the network; nothing there may crash us).
 */
export class EnhancedEventEmitter<E extends Events = Events> extends EventEmitter {
  constructor() {
    super();
    this.setMaxListeners(Number.POSITIVE_INFINITY);
  }

  override emit<K extends keyof E & string>(eventName: K, ...args: E[K]): boolean {
    return super.emit(eventName, ...args);
  }

  /**
   * Calls every listener, catching what they throw. Returns what they returned (so a caller
   * may await listeners that return promises) and the errors thrown synchronously.
   */
  safeEmit<K extends keyof E & string>(eventName: K, ...args: E[K]): { results: unknown[]; errors: unknown[] } {
    const results: unknown[] = [];
    const errors: unknown[] = [];
    // rawListeners, so that calling a once() wrapper also removes it.
    for (const listener of this.rawListeners(eventName) as ((...a: E[K]) => unknown)[]) {
      try {
        results.push(listener.apply(this, args));
      } catch (error) {
        errors.push(error);
      }
    }
    return { results, errors };
  }

  override on<K extends keyof E & string>(eventName: K, listener: (...args: E[K]) => void): this {
    return super.on(eventName, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof E & string>(eventName: K, listener: (...args: E[K]) => void): this {
    return super.once(eventName, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof E & string>(eventName: K, listener: (...args: E[K]) => void): this {
    return super.off(eventName, listener as (...args: unknown[]) => void);
  }

  override addListener<K extends keyof E & string>(eventName: K, listener: (...args: E[K]) => void): this {
    return super.addListener(eventName, listener as (...args: unknown[]) => void);
  }

  override removeListener<K extends keyof E & string>(eventName: K, listener: (...args: E[K]) => void): this {
    return super.removeListener(eventName, listener as (...args: unknown[]) => void);
  }
}
