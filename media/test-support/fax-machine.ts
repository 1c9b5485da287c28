import { createSocket, type Socket } from "node:dgram";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FaxEngine, type FaxResult } from "../fax/FaxEngine.ts";
import { decodeG711, encodeG711 } from "../rtc/tones.ts";
import { DigestAuthenticator, ha1 } from "../sip/core/digest.ts";
import { parseMessage, SipRequest } from "../sip/core/message.ts";
import { createResponse } from "../sip/core/responses.ts";

/** What the machine does with the next call it gets: answer as a fax, be busy, ring unanswered, or refuse. */
export type FaxMachineTurn = "answer" | "busy" | "ring" | "decline" | "not found";

/** One call the machine got (its authenticated INVITE), what it did, and the fax when it answered. */
export interface FaxMachineCall {
  invite: SipRequest;
  turn: FaxMachineTurn;
  /** The received pages (TIFF-F), once the fax is over. */
  tiff: string | null;
  result: FaxResult | null;
  /** The call ended (BYE, CANCEL, or our refusal). */
  ended: Promise<void>;
}

const PTIME = 20;
/** Audio still heard after the caller's BYE: it may overtake the last fax frames (DCN). */
const BYE_GRACE_MS = 400;

/** G.711 RTP both ways between a FaxEngine and one far end, paced every 20 ms. */
export class RtpFaxEnd {
  private seq = Math.floor(Math.random() * 0xffff);
  private readonly ssrc = (Math.random() * 2 ** 32) >>> 0;
  private timer: NodeJS.Timeout | undefined;
  private frames = 0;
  private readonly started = performance.now();
  private remote: { address: string; port: number } | null = null;

  constructor(
    readonly socket: Socket,
    readonly engine: FaxEngine,
    readonly codec: "PCMU" | "PCMA",
  ) {
    const payloadType = codec === "PCMU" ? 0 : 8;
    socket.on("message", (packet) => {
      if (packet.length <= 12 || packet[0] === undefined || packet[0] >> 6 !== 2) return;
      if (((packet[1] ?? 0) & 0x7f) !== payloadType) return;
      const csrcs = (packet[0] & 0x0f) * 4;
      engine.receive(decodeG711(packet.subarray(12 + csrcs), codec));
    });
  }

  /** Starts sending to the far end's RTP address. */
  start(remote: { address: string; port: number }): void {
    this.remote = remote;
    this.tick();
  }

  private tick(): void {
    const remote = this.remote;
    if (!remote) return;
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = this.codec === "PCMU" ? 0 : 8;
    header.writeUInt16BE(this.seq, 2);
    header.writeUInt32BE((this.frames * 160) >>> 0, 4);
    header.writeUInt32BE(this.ssrc, 8);
    this.seq = (this.seq + 1) & 0xffff;
    this.frames++;
    this.socket.send(
      Buffer.concat([header, encodeG711(this.engine.transmit(), this.codec)]),
      remote.port,
      remote.address,
    );
    const due = this.started + this.frames * PTIME - performance.now();
    this.timer = setTimeout(() => this.tick(), Math.max(0, due));
  }

  stop(): void {
    clearTimeout(this.timer);
    this.remote = null;
  }
}

/**
 * A carrier with a fax machine behind it, for email-to-fax tests: a scripted SIP user agent on the
 * trunk's address (UDP) that challenges every INVITE for the trunk's credentials (407), then plays
 * its next turn: busy (486), not found (404), decline (603), ring until cancelled, or answer with
 * G.711 and receive the fax with SpanDSP (a FaxEngine, the same binding the node uses) into a
 * TIFF-F. It hangs up itself only if the caller does not within a few seconds of the fax's end.
 */
export class TestFaxMachine {
  /** Every call it got, authenticated, in order. */
  readonly calls: FaxMachineCall[] = [];
  /** Turns for the next calls, in order; once used up, it answers. */
  readonly turns: FaxMachineTurn[] = [];
  /** INVITEs without valid credentials (challenged or refused). */
  unauthenticated = 0;
  private readonly auth = new DigestAuthenticator(["MD5"]);
  private readonly handlers = new Map<string, (request: SipRequest) => void>();
  private readonly waiters: (() => void)[] = [];

  private constructor(
    private readonly sip: Socket,
    private readonly dir: string,
    private readonly options: { host: string; credentials: { username: string; password: string }; ident: string },
  ) {
    sip.on("message", (data, from) => {
      let message: ReturnType<typeof parseMessage>;
      try {
        message = parseMessage(data);
      } catch {
        return;
      }
      if (!(message instanceof SipRequest)) return;
      const peer = { address: from.address, port: from.port };
      const handler = this.handlers.get(message.callId);
      if (handler) handler(message);
      else if (message.method === "INVITE") this.invited(message, peer);
      else if (message.method !== "ACK") this.reply(message, 481, peer);
    });
  }

  /** Listens on `host:port` (the trunk's address); `ident` is the machine's CSI. */
  static async start(options: {
    host: string;
    port: number;
    credentials: { username: string; password: string };
    ident?: string;
  }): Promise<TestFaxMachine> {
    const sip = createSocket("udp4");
    await new Promise<void>((resolve) => sip.bind(options.port, options.host, resolve));
    const dir = await mkdtemp(join(tmpdir(), "edgepbx-fax-machine-"));
    return new TestFaxMachine(sip, dir, { ...options, ident: options.ident ?? "+61 2 9000 1000" });
  }

  /** The next call (from the first on) once it has ended, waiting up to `timeoutMs`. */
  async call(index: number, timeoutMs = 60_000): Promise<FaxMachineCall> {
    const deadline = Date.now() + timeoutMs;
    while (!this.calls[index]) {
      if (Date.now() > deadline) throw new Error(`the fax machine got no call #${index + 1}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    const call = this.calls[index] as FaxMachineCall;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`call #${index + 1} did not end`)), Math.max(1, deadline - Date.now()));
    });
    await Promise.race([call.ended, late]).finally(() => clearTimeout(timer));
    return call;
  }

  private reply(request: SipRequest, status: number, peer: { address: string; port: number }, toTag?: string): void {
    const response = createResponse(request, status, undefined, peer, toTag);
    this.sip.send(response.toBuffer(), peer.port, peer.address);
  }

  private invited(invite: SipRequest, peer: { address: string; port: number }): void {
    const realm = "carrier.test";
    const lookup = (username: string) =>
      username === this.options.credentials.username
        ? {
            ha1Md5: ha1("MD5", username, realm, this.options.credentials.password),
            ha1Sha256: ha1("SHA-256", username, realm, this.options.credentials.password),
          }
        : null;
    const checked = this.auth.verify(invite.get("Proxy-Authorization"), "INVITE", realm, lookup);
    if (!checked.ok) {
      this.unauthenticated++;
      const challenge = createResponse(invite, 407, undefined, peer);
      for (const value of this.auth.challenges(realm)) challenge.append("Proxy-Authenticate", value);
      this.sip.send(challenge.toBuffer(), peer.port, peer.address);
      return;
    }
    const turn = this.turns.shift() ?? "answer";
    let done: () => void = () => {};
    const call: FaxMachineCall = {
      invite,
      turn,
      tiff: null,
      result: null,
      ended: new Promise((resolve) => {
        done = resolve;
      }),
    };
    this.calls.push(call);
    for (const wake of this.waiters.splice(0)) wake();
    const toTag = Math.random().toString(36).slice(2);
    this.reply(invite, 100, peer);
    const end = () => {
      this.handlers.delete(invite.callId);
      done();
    };
    if (turn === "busy" || turn === "decline" || turn === "not found") {
      this.reply(invite, turn === "busy" ? 486 : turn === "decline" ? 603 : 404, peer, toTag);
      // The ACK of our refusal (and any retransmission) ends here.
      this.handlers.set(invite.callId, () => {});
      setTimeout(end, 200);
      return;
    }
    this.reply(invite, 180, peer, toTag);
    if (turn === "ring") {
      this.handlers.set(invite.callId, (request) => {
        if (request.method !== "CANCEL") return;
        this.reply(request, 200, peer);
        this.reply(invite, 487, peer, toTag);
        setTimeout(end, 200);
      });
      return;
    }
    void this.answer(invite, peer, toTag, call, end);
  }

  private async answer(
    invite: SipRequest,
    peer: { address: string; port: number },
    toTag: string,
    call: FaxMachineCall,
    end: () => void,
  ): Promise<void> {
    const offer = invite.body.toString();
    const address = /^c=IN IP4 (\S+)/m.exec(offer)?.[1] ?? "127.0.0.1";
    const port = Number(/^m=audio (\d+)/m.exec(offer)?.[1]);
    const formats = /^m=audio \d+ \S+ ([\d ]+)/m.exec(offer)?.[1]?.split(" ") ?? [];
    const codec = formats.includes("0") ? "PCMU" : "PCMA";
    const rtp = createSocket("udp4");
    await new Promise<void>((resolve) => rtp.bind(0, this.options.host, resolve));
    const tiff = join(this.dir, `${invite.callId.replace(/[^\w.-]/g, "_")}.tif`);
    const engine = new FaxEngine({ calling: false, receiveFile: tiff, ident: this.options.ident });
    const line = new RtpFaxEnd(rtp, engine, codec);
    const ok = createResponse(invite, 200, undefined, peer, toTag);
    ok.append("Contact", `<sip:fax@${this.options.host}:${this.sip.address().port}>`);
    ok.append("Content-Type", "application/sdp");
    ok.body = Buffer.from(
      [
        "v=0",
        `o=fax 1 1 IN IP4 ${this.options.host}`,
        "s=-",
        `c=IN IP4 ${this.options.host}`,
        "t=0 0",
        `m=audio ${rtp.address().port} RTP/AVP ${codec === "PCMU" ? 0 : 8}`,
        `a=rtpmap:${codec === "PCMU" ? "0 PCMU" : "8 PCMA"}/8000`,
        "a=sendrecv",
        "",
      ].join("\r\n"),
    );
    const bytes = ok.toBuffer();
    this.sip.send(bytes, peer.port, peer.address);
    // Our 2xx again until the ACK (RFC 3261 §13.3.1.4), a few times on loopback.
    const resend = setInterval(() => this.sip.send(bytes, peer.port, peer.address), 500);
    let bye: SipRequest | null = null;
    this.handlers.set(invite.callId, (request) => {
      if (request.method === "ACK") clearInterval(resend);
      else if (request.method === "INVITE") this.sip.send(bytes, peer.port, peer.address);
      else if (request.method === "BYE") {
        bye = request;
        this.reply(request, 200, peer);
        // What is still on its way is heard, then the line is cut.
        setTimeout(() => engine.hangup(), BYE_GRACE_MS);
      } else this.reply(request, 200, peer);
    });
    line.start({ address, port });
    call.result = await engine.finished;
    call.tiff = tiff;
    // The sender hangs up once its fax is over; if it does not, we do.
    const deadline = Date.now() + 5000;
    while (!bye && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    line.stop();
    clearInterval(resend);
    if (!bye) {
      const ourBye = new SipRequest("BYE", /<([^>]+)>/.exec(invite.get("Contact") ?? "")?.[1] ?? invite.uri);
      ourBye.append("Via", `SIP/2.0/UDP ${this.options.host}:${this.sip.address().port};branch=z9hG4bK${toTag}b`);
      ourBye.append("From", `${invite.get("To") ?? ""};tag=${toTag}`);
      ourBye.append("To", invite.get("From") ?? "");
      ourBye.append("Call-ID", invite.callId);
      ourBye.append("CSeq", "1 BYE");
      ourBye.append("Max-Forwards", "70");
      this.sip.send(ourBye.toBuffer(), peer.port, peer.address);
    }
    rtp.close();
    end();
  }

  async close(): Promise<void> {
    this.sip.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
