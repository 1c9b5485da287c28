/** Where the media node writes what it does. Messages never contain a token, password or HA1. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * Logs to the console with a prefix; debug lines only when DEBUG names the prefix
 * (`DEBUG=edgepbx:*` or `DEBUG=edgepbx:edge-link`), as with mediasoup's debug module.
 */
export class ConsoleLogger implements Logger {
  private readonly prefix: string;
  private readonly debugEnabled: boolean;

  constructor(name: string) {
    this.prefix = `edgepbx:${name}`;
    const wanted = (process.env.DEBUG ?? "").split(/[\s,]+/);
    this.debugEnabled = wanted.some((w) => w === "*" || w === "edgepbx:*" || w === this.prefix);
  }

  debug(message: string): void {
    if (this.debugEnabled) console.debug(`${this.prefix} ${message}`);
  }

  info(message: string): void {
    console.info(`${this.prefix} ${message}`);
  }

  warn(message: string): void {
    console.warn(`${this.prefix} WARN ${message}`);
  }

  error(message: string): void {
    console.error(`${this.prefix} ERROR ${message}`);
  }
}
