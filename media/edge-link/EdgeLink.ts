import WebSocket from "ws";
import type { CallRecord, ConferenceParticipant, FaxRecord, ForwardAllTable, PbxConfig } from "../../shared/index.ts";
import { EnhancedEventEmitter } from "../common/EnhancedEventEmitter.ts";
import { ConsoleLogger, type Logger } from "../common/Logger.ts";
import { ConfigStore } from "./ConfigStore.ts";
import { type HubMessage, isRejected, type NodeMessage, parseHubMessage, type RejectedFrame } from "./messages.ts";

export interface EdgeLinkOptions {
  /** The edge's base URL (http(s):// or ws(s)://); the link connects to /api/nodes/connect on it. */
  url: string;
  /** This media node's id, 1 to 64 letters, digits, . _ or -; the portal shows it on acks. */
  nodeId: string;
  /** The node token (MEDIA_NODE_TOKEN of the edge). Sent as a Bearer header, never logged. */
  token: string;
  /** Folder for the node's state; the configs are kept in `<stateDir>/edge-configs.json`. */
  stateDir: string;
  logger?: Logger;
  /** First reconnect delay; it doubles on each failed attempt up to backoffMaxMs. Default 500. */
  backoffInitialMs?: number;
  /** Default 30 000. */
  backoffMaxMs?: number;
  /** A connection open this long counts as stable: the next drop starts the backoff over. Default 10 000. */
  stableAfterMs?: number;
  /** Default 20 000. */
  pingIntervalMs?: number;
  /** No pong this long after a ping: the connection is dead. Default 10 000. */
  pongTimeoutMs?: number;
  /** How long a `config` listener's promise may take before the version counts as not live. Default 30 000. */
  applyTimeoutMs?: number;
}

export type EdgeLinkEvents = {
  /**
   * A PBX configuration to run (from the store at start, then from the edge). Listeners switch
   * to it without dropping calls; the version is acked once every listener returned, or once the
   * promises they returned resolved. A listener that throws or rejects keeps the version un-acked.
   */
  config: [pbx: string, version: number, config: PbxConfig];
  /** The PBX was deleted on the edge: stop serving it. */
  remove: [pbx: string];
  /** The PBX's Call Forward All table as the edge keeps it. */
  forwardAll: [pbx: string, table: ForwardAllTable];
  /** The edge has sent everything this node was missing (after each hello). */
  synced: [pbxs: number];
  /** The edge was told this version is live here. */
  ack: [pbx: string, version: number];
  /** A frame from the edge was refused (it was not acked). */
  rejected: [frame: RejectedFrame];
  connected: [];
  disconnected: [reason: string];
};

export type EdgeLinkState = "new" | "connecting" | "open" | "waiting" | "stopped";

/**
 * The media node's link to the edge: one WebSocket to the node hub, which pushes every applied
 * PBX configuration. The link keeps them in a ConfigStore, hands them to the call engine
 * through `config` events and acknowledges each version once it is live. It reconnects by
 * itself (exponential backoff with jitter) and detects dead connections with ping/pong.
 */
export class EdgeLink extends EnhancedEventEmitter<EdgeLinkEvents> {
  readonly store: ConfigStore;
  private readonly url: string;
  private readonly nodeId: string;
  private readonly token: string;
  private readonly logger: Logger;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly stableAfterMs: number;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly applyTimeoutMs: number;
  #state: EdgeLinkState = "new";
  private ws: WebSocket | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  /** Frames are handled one after another, so a slow listener cannot see versions out of order. */
  private inbox: Promise<void> = Promise.resolve();
  /** PBX → the version the listeners took; only those are acked. */
  private readonly live = new Map<string, number>();
  /** "pbx@version" of acks written to the socket but not yet flushed, so synced does not send them twice. */
  private readonly acksInFlight = new Set<string>();
  /** Forward-all changes the edge has not heard yet, by "pbx route" (the latest wins). */
  private readonly unsentForwards = new Map<string, Extract<NodeMessage, { type: "forwardAll" }>>();
  /** Each open conference room's participants, sent again after every reconnect (the edge forgets a node that drops). */
  private readonly conferences = new Map<string, Extract<NodeMessage, { type: "conference" }>>();
  private conferenceSeq = 0;

  constructor(options: EdgeLinkOptions) {
    super();
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.nodeId))
      throw new TypeError("nodeId must be 1 to 64 letters, digits, . _ or -");
    if (!options.token) throw new TypeError("token is required");
    const url = new URL("/api/nodes/connect", options.url);
    url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
    url.searchParams.set("node", options.nodeId);
    this.url = url.toString();
    this.nodeId = options.nodeId;
    this.token = options.token;
    this.logger = options.logger ?? new ConsoleLogger("edge-link");
    this.backoffInitialMs = options.backoffInitialMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.stableAfterMs = options.stableAfterMs ?? 10_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 20_000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
    this.applyTimeoutMs = options.applyTimeoutMs ?? 30_000;
    this.store = new ConfigStore({ dir: options.stateDir, logger: this.logger });
  }

  get state(): EdgeLinkState {
    return this.#state;
  }

  /** Delivers the stored configs (the node serves them before the edge answers), then connects. */
  start(): void {
    if (this.#state !== "new") throw new Error(`EdgeLink already ${this.#state}`);
    this.#state = "connecting";
    for (const { pbx, version, config } of this.store.entries())
      this.inbox = this.inbox.then(() => this.deliver(pbx, version, config).then(() => undefined));
    this.connect();
  }

  /**
   * Reports a finished call to the edge (best effort: a record made while the edge is
   * unreachable is dropped and logged; call records are not billing-grade yet).
   */
  reportCall(pbx: string, record: CallRecord): boolean {
    const sent = this.send({ type: "call", pbx, record });
    if (!sent) this.logger.warn(`call record ${record.callId} of ${pbx} not sent: not connected`);
    return sent;
  }

  /**
   * Reports a fax (received or sent) for the PBX's fax log; best effort like call records: a
   * report made while the edge is unreachable is dropped and logged.
   */
  reportFax(pbx: string, fax: FaxRecord): boolean {
    const sent = this.send({ type: "fax", pbx, fax });
    if (!sent) this.logger.warn(`fax ${fax.id} of ${pbx} not logged: not connected`);
    return sent;
  }

  /**
   * Tells the edge a phone set or cleared Call Forward All. Kept until it is sent: a change made
   * while the edge is unreachable goes after the next synced (after the edge's own table, so
   * the phone's later change wins).
   */
  reportForwardAll(pbx: string, route: string, destination: string | null): void {
    const message = { type: "forwardAll" as const, pbx, route, destination };
    this.unsentForwards.set(`${pbx} ${route}`, message);
    this.send(message, (error) => {
      if (!error && this.unsentForwards.get(`${pbx} ${route}`) === message)
        this.unsentForwards.delete(`${pbx} ${route}`);
    });
  }

  /** Tells the edge who is in a conference room now (an empty list: the room closed). */
  reportConference(pbx: string, room: string, participants: ConferenceParticipant[]): void {
    const message = { type: "conference" as const, pbx, room, participants, seq: ++this.conferenceSeq };
    if (participants.length > 0) this.conferences.set(`${pbx} ${room}`, message);
    else this.conferences.delete(`${pbx} ${room}`);
    this.send(message);
  }

  /** Closes the connection, stops reconnecting and waits for the store to be on disk. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    clearTimeout(this.reconnectTimer);
    this.clearConnectionTimers();
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
      ws.close(1000, "node stopping");
      // A peer that does not answer the close handshake does not hold the shutdown.
      const timer = setTimeout(() => ws.terminate(), 2_000);
      await closed;
      clearTimeout(timer);
    }
    await this.inbox;
    await this.store.flush();
  }

  private connect(): void {
    this.#state = "connecting";
    this.logger.debug(`connecting to ${this.url} (attempt ${this.attempt + 1})`);
    const ws = new WebSocket(this.url, {
      headers: { authorization: `Bearer ${this.token}` },
      handshakeTimeout: 10_000,
      maxPayload: 32 * 1024 * 1024,
    });
    this.ws = ws;
    ws.on("open", () => this.onOpen(ws));
    ws.on("message", (data, isBinary) => this.onMessage(ws, data, isBinary));
    // 'close' always follows; the error only says why. ws's messages hold no header values.
    ws.on("error", (error) => this.logger.warn(`connection to the edge failed: ${error.message}`));
    ws.on("close", (code, reason) => this.onClose(ws, code, reason.toString("utf8").slice(0, 120)));
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws || this.#state === "stopped") return;
    this.#state = "open";
    this.logger.info(`connected to the edge as ${this.nodeId}; have ${this.store.size} PBX configs`);
    this.send({ type: "hello", have: this.store.have() });
    this.pingTimer = setInterval(() => this.ping(ws), this.pingIntervalMs);
    // Only a connection that holds resets the backoff; one that drops at once keeps it growing.
    this.stableTimer = setTimeout(() => {
      this.attempt = 0;
    }, this.stableAfterMs);
    this.safeEmitLogged("connected");
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    this.clearConnectionTimers();
    const why = `code ${code}${reason ? ` (${reason})` : ""}`;
    this.safeEmitLogged("disconnected", why);
    if (this.#state === "stopped") return;
    const delay = this.nextDelay();
    this.logger.warn(`disconnected from the edge, ${why}; reconnecting in ${delay} ms`);
    this.#state = "waiting";
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Exponential backoff with "equal jitter": between half and all of min(max, initial·2^attempt). */
  private nextDelay(): number {
    const ceiling = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  private ping(ws: WebSocket): void {
    if (ws !== this.ws || this.pongTimer) return;
    this.send({ type: "ping" });
    this.pongTimer = setTimeout(() => {
      this.pongTimer = undefined;
      this.logger.warn(`no pong from the edge within ${this.pongTimeoutMs} ms; dropping the connection`);
      // terminate, not close: a dead peer would never finish the close handshake.
      ws.terminate();
    }, this.pongTimeoutMs);
  }

  private clearConnectionTimers(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.stableTimer);
    this.pingTimer = this.pongTimer = this.stableTimer = undefined;
  }

  private onMessage(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (ws !== this.ws) return;
    const message = parseHubMessage(data, isBinary);
    if (isRejected(message)) {
      const what = [message.type ?? "frame", message.pbx, message.version && `v${message.version}`].filter(Boolean);
      this.logger.warn(`refused ${what.join(" ")} from the edge: ${message.reason}`);
      this.safeEmitLogged("rejected", message);
      return;
    }
    // Liveness is answered at once, not behind a listener that takes its time.
    if (message.type === "pong") {
      clearTimeout(this.pongTimer);
      this.pongTimer = undefined;
      return;
    }
    this.inbox = this.inbox.then(() => this.handle(message));
  }

  private async handle(message: Exclude<HubMessage, { type: "pong" }>): Promise<void> {
    switch (message.type) {
      case "config": {
        const { pbx, version, config } = message;
        const current = this.store.get(pbx);
        if (current && current.version === version && this.live.get(pbx) === version) {
          // Already running this version: say so again rather than switch the calls again.
          this.ack(pbx, version);
          return;
        }
        if (current && current.version > version)
          this.logger.warn(`the edge sent ${pbx} v${version}, older than v${current.version} here; taking it`);
        this.store.set(pbx, version, config);
        this.logger.info(`${pbx} v${version} received (${config.extensions.length} extensions)`);
        if (await this.deliver(pbx, version, config)) this.ack(pbx, version);
        return;
      }
      case "remove":
        this.live.delete(message.pbx);
        if (this.store.delete(message.pbx)) this.logger.info(`${message.pbx} removed`);
        this.safeEmitLogged("remove", message.pbx);
        return;
      case "forwardAll":
        this.safeEmitLogged("forwardAll", message.pbx, message.table);
        return;
      case "synced":
        this.logger.debug(`synced (${message.pbxs} PBXs on the edge)`);
        for (const pending of [...this.unsentForwards.values()])
          this.reportForwardAll(pending.pbx, pending.route, pending.destination);
        for (const room of this.conferences.values()) this.send({ ...room, seq: ++this.conferenceSeq });
        // Versions that went live while the edge could not hear it (before a crash or a drop).
        for (const { pbx, version, acked } of this.store.entries())
          if (!acked && this.live.get(pbx) === version && !this.acksInFlight.has(`${pbx}@${version}`))
            this.ack(pbx, version);
        this.safeEmitLogged("synced", message.pbxs);
        return;
      case "error":
        this.logger.warn(`the edge reported an error: ${message.message}`);
        return;
    }
  }

  /** Hands a version to the listeners; true when all of them took it. */
  private async deliver(pbx: string, version: number, config: PbxConfig): Promise<boolean> {
    const { results, errors } = this.safeEmit("config", pbx, version, config);
    const pending = results.filter(isPromiseLike);
    let timer: NodeJS.Timeout | undefined;
    if (pending.length > 0) {
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(resolve, this.applyTimeoutMs, "timeout");
      });
      const settled = await Promise.race([Promise.allSettled(pending), timeout]);
      clearTimeout(timer);
      if (settled === "timeout") errors.push(new Error(`still switching after ${this.applyTimeoutMs} ms`));
      else for (const s of settled) if (s.status === "rejected") errors.push(s.reason);
    }
    if (errors.length > 0) {
      for (const error of errors)
        this.logger.error(
          `a config listener failed on ${pbx} v${version}: ${(error as Error)?.message ?? String(error)}`,
        );
      return false;
    }
    this.live.set(pbx, version);
    return true;
  }

  /** Emits an event nothing waits for; listener failures, thrown or rejected, are logged. */
  private safeEmitLogged<K extends keyof EdgeLinkEvents>(event: K, ...args: EdgeLinkEvents[K]): void {
    const log = (error: unknown) =>
      this.logger.error(`a ${event} listener failed: ${(error as Error)?.message ?? String(error)}`);
    const { results, errors } = this.safeEmit(event, ...args);
    errors.forEach(log);
    for (const result of results) if (isPromiseLike(result)) result.then(undefined, log);
  }

  private ack(pbx: string, version: number): void {
    const key = `${pbx}@${version}`;
    this.acksInFlight.add(key);
    const sending = this.send({ type: "ack", pbx, version }, (error) => {
      this.acksInFlight.delete(key);
      if (error) return;
      this.store.markAcked(pbx, version);
      this.logger.debug(`acked ${pbx} v${version}`);
      this.safeEmitLogged("ack", pbx, version);
    });
    if (!sending) this.acksInFlight.delete(key);
  }

  /**
   * Sends on the open socket; `done` runs once the frame was handed to the kernel, or failed.
   * False when there is no open socket: an unsent ack stays un-acked in the store and goes
   * after the next synced.
   */
  private send(message: NodeMessage, done?: (error?: Error) => void): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message), (error) => {
      if (error) this.logger.debug(`could not send ${message.type}: ${error.message}`);
      done?.(error ?? undefined);
    });
    return true;
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}
