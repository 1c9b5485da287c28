import type { Socket } from "node:dgram";
import type { FaxResult } from "./FaxEngine.ts";
import { FAX_HANGUP_GRACE_MS } from "./faxOnLeg.ts";
import type { T38Engine } from "./T38Engine.ts";
import { UdptlReceiver, UdptlSender } from "./udptl.ts";

const TICK_MS = 20;
const SAMPLES_PER_TICK = 160;
/** After T.30 ends by itself, the time given to our last packets (and their repeats) to reach the far end. */
const DEFAULT_TAIL_MS = 200;

/** A UDPTL stream of one call: our socket and the far end's address (from its T.38 SDP). */
export interface UdptlLine {
  socket: Socket;
  /** Where we send; a re-INVITE may change it while the fax runs. */
  remote: { address: string; port: number };
  /** The far end's T38FaxMaxDatagram. */
  maxDatagram: number;
  /** Previous IFPs repeated in each datagram (2–3). */
  redundancy?: number;
}

/** What went over the wire, for logs and tests. */
export interface UdptlCounts {
  sent: number;
  received: number;
  recovered: number;
  garbage: number;
}

/**
 * Runs one fax over T.38 on a UDPTL line: datagrams from the far end's address are decoded (lost
 * IFPs rebuilt from redundancy) into the engine, and every 20 ms, paced against the start, the
 * engine's IFPs go out with redundancy. Resolves with the result once T.30 ends (and `tailMs`
 * later), or once `signal` aborts (the call ended) and what was in flight has been heard. The
 * engine is closed after; the socket is the caller's.
 */
export async function faxOnUdptl(
  engine: T38Engine,
  line: UdptlLine,
  signal: AbortSignal,
  counts: UdptlCounts = { sent: 0, received: 0, recovered: 0, garbage: 0 },
  tailMs = DEFAULT_TAIL_MS,
): Promise<FaxResult> {
  if (signal.aborted) {
    engine.close();
    return engine.finished;
  }
  const sender = new UdptlSender(line.redundancy ?? 3, line.maxDatagram);
  const receiver = new UdptlReceiver();
  const onMessage = (data: Buffer, from: { address: string }) => {
    // Only the far end named in its SDP (any port: some gateways send from another one).
    if (from.address !== line.remote.address) return;
    counts.received++;
    for (const { seq, ifp } of receiver.push(data)) engine.receive(ifp, seq);
    counts.recovered = receiver.recovered;
    counts.garbage = receiver.garbage;
  };
  const send = (ifps: Buffer[]) => {
    for (const ifp of ifps) {
      try {
        line.socket.send(sender.next(ifp), line.remote.port, line.remote.address);
        counts.sent++;
      } catch {
        // The socket is closed (the call is over): nothing more to send.
      }
    }
  };
  line.socket.on("message", onMessage);
  let ticks = 0;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    ticks++;
    send(engine.tick(SAMPLES_PER_TICK));
    if (engine.done) return;
    timer = setTimeout(tick, Math.max(0, started + (ticks + 1) * TICK_MS - performance.now()));
  };
  timer = setTimeout(tick, TICK_MS);
  const ended = () => {
    clearTimeout(timer);
    const grace = setTimeout(() => engine.hangup(), FAX_HANGUP_GRACE_MS);
    void engine.finished.then(() => clearTimeout(grace));
  };
  signal.addEventListener("abort", ended, { once: true });
  try {
    const result = await engine.finished;
    if (!signal.aborted && tailMs > 0)
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(wait);
          resolve();
        };
        const wait = setTimeout(done, tailMs);
        signal.addEventListener("abort", done, { once: true });
      });
    return result;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", ended);
    line.socket.off("message", onMessage);
    engine.close();
  }
}
