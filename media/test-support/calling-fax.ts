import { createSocket, type Socket } from "node:dgram";
import { FAX_FRAME_SAMPLES, FaxEngine, type FaxResult } from "../fax/FaxEngine.ts";
import { faxOnUdptl, type UdptlCounts } from "../fax/faxOnUdptl.ts";
import { T38Engine } from "../fax/T38Engine.ts";
import { parseT38Offer, t38Offer } from "../fax/t38Sdp.ts";
import { decodeG711, encodeG711 } from "../rtc/tones.ts";
import { randomToken } from "../sip/core/headers.ts";
import { parseMessage, SipRequest, type SipResponse } from "../sip/core/message.ts";
import { createResponse } from "../sip/core/responses.ts";
import { ackOf } from "./UdpPhone.ts";

type G711 = "PCMU" | "PCMA";
const PAYLOAD_TYPE: Record<G711, number> = { PCMU: 0, PCMA: 8 };

/** How a fax the machine sent went, with the times (ms since the INVITE) a test wants. */
export interface SentFax {
  /** The final response to the INVITE. */
  status: number;
  /** The engine's result (null when the call never carried audio). */
  result: FaxResult | null;
  /** When the node's early media (183 with SDP) arrived, ms after the INVITE; null if none. */
  earlyMediaMs: number | null;
  /** When the 200 arrived, ms after the INVITE; null if never answered. */
  answeredMs: number | null;
  /** When the fax (and the call) ended, ms after the INVITE. */
  endedMs: number;
  /** Who hung up. */
  hungUpBy: "machine" | "node" | null;
  /** RTP packets sent and received. */
  packets: { sent: number; received: number };
  /** In T.38 mode: the answer to our re-INVITE and, once switched, what went over UDPTL. */
  t38: { status: number; switchedMs: number | null; udptl: UdptlCounts } | null;
}

/**
 * A calling test fax machine (media/test-support/fax-machine.ts is the answering one) made of the node's own SpanDSP binding behind a SIP user agent of its own
 * (UDP, on `host`, e.g. the trunk's address so the node takes it for the carrier): it calls a
 * number with a G.711 offer, starts its modem as soon as it has somewhere to send RTP (the node's
 * 183 early media, or the 200), sends CNG and the document's pages as a calling fax does, and
 * hangs up when T.30 ends, or hears the node's BYE. In T.38 mode it behaves like a carrier's
 * gateway: once answered and a moment of audio has passed, it re-INVITEs to T.38 (m=image udptl
 * t38) and, when that is accepted, starts the fax again with its own T38Session over UDPTL.
 */
export class CallingFaxMachine {
  private constructor(
    private readonly sip: Socket,
    private readonly rtp: Socket,
    private readonly udptl: Socket,
    readonly host: string,
    private readonly server: { host: string; port: number },
  ) {}

  static async open(host: string, server: { host: string; port: number }): Promise<CallingFaxMachine> {
    const bind = async () => {
      const socket = createSocket("udp4");
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(0, host, () => resolve());
      });
      return socket;
    };
    return new CallingFaxMachine(await bind(), await bind(), await bind(), host, server);
  }

  /** Calls `did` as `callerId` and faxes `document` (TIFF-F); resolves once the call is over. */
  async send(options: {
    did: string;
    callerId: string;
    document: string;
    ident?: string;
    codec?: G711;
    ecm?: boolean;
    /** Gives up (hangs up) after this long; default 3 minutes. */
    maxMs?: number;
    /** Hangs up as soon as this many pages went through (a sender cut off mid-fax). */
    hangUpAfterPages?: number;
    /** Re-INVITE to T.38 this long after the answer (a carrier's gateway that heard the fax). */
    t38AfterMs?: number;
    /** Offers local TCF (which a UDPTL answerer may refuse) rather than transferred TCF. */
    t38LocalTcf?: boolean;
  }): Promise<SentFax> {
    const codec = options.codec ?? "PCMU";
    const sipPort = this.sip.address().port;
    const rtpPort = this.rtp.address().port;
    const started = performance.now();
    const since = () => Math.round(performance.now() - started);
    const engine = new FaxEngine({
      calling: true,
      transmitFile: options.document,
      ident: options.ident ?? options.callerId,
      ecm: options.ecm ?? true,
    });
    const outcome: SentFax = {
      status: 0,
      result: null,
      earlyMediaMs: null,
      answeredMs: null,
      endedMs: 0,
      hungUpBy: null,
      packets: { sent: 0, received: 0 },
      t38: null,
    };
    let switched: T38Engine | null = null;
    const t38Ended = new AbortController();
    let cseq = 1;

    const invite = new SipRequest("INVITE", `sip:${options.did}@${this.server.host}:${this.server.port}`);
    invite.append("Via", `SIP/2.0/UDP ${this.host}:${sipPort};branch=z9hG4bK${randomToken()};rport`);
    invite.append("From", `"Fax ${options.callerId}" <sip:${options.callerId}@${this.host}>;tag=${randomToken()}`);
    invite.append("To", `<sip:${options.did}@${this.server.host}>`);
    invite.append("Call-ID", `${randomToken(12)}@faxmachine`);
    invite.append("CSeq", "1 INVITE");
    invite.append("Contact", `<sip:fax@${this.host}:${sipPort}>`);
    invite.append("Max-Forwards", "70");
    invite.append("Content-Type", "application/sdp");
    invite.body = Buffer.from(
      [
        "v=0",
        `o=faxmachine 1 1 IN IP4 ${this.host}`,
        "s=-",
        `c=IN IP4 ${this.host}`,
        "t=0 0",
        `m=audio ${rtpPort} RTP/AVP ${PAYLOAD_TYPE[codec]}`,
        `a=rtpmap:${PAYLOAD_TYPE[codec]} ${codec}/8000`,
        "a=sendrecv",
        "",
      ].join("\r\n"),
    );

    let remote: { address: string; port: number } | null = null;
    let ok: SipResponse | null = null;
    let timer: NodeJS.Timeout | undefined;
    let ticks = 0;
    let heard = 0;
    let mediaStarted = 0;
    const seq = { n: Math.floor(Math.random() * 0xffff), ts: Math.floor(Math.random() * 2 ** 31) };
    const ssrc = (Math.random() * 2 ** 32) >>> 0;
    const silence = new Int16Array(FAX_FRAME_SAMPLES);

    const sendFrame = () => {
      if (!remote) return;
      const payload = encodeG711(engine.transmit(), codec);
      const packet = Buffer.alloc(12 + payload.length);
      packet[0] = 0x80;
      packet[1] = PAYLOAD_TYPE[codec];
      packet.writeUInt16BE(seq.n, 2);
      packet.writeUInt32BE(seq.ts >>> 0, 4);
      packet.writeUInt32BE(ssrc, 8);
      payload.copy(packet, 12);
      seq.n = (seq.n + 1) & 0xffff;
      seq.ts = (seq.ts + FAX_FRAME_SAMPLES) >>> 0;
      this.rtp.send(packet, remote.port, remote.address);
      outcome.packets.sent++;
    };
    const tick = () => {
      if (engine.done) return;
      ticks++;
      sendFrame();
      // T.30's timers run on the audio heard: silence stands in for what does not come.
      while (!engine.done && ticks - heard > 15) {
        heard++;
        engine.receive(silence);
      }
      const due = mediaStarted + (ticks + 1) * 20 - performance.now();
      timer = setTimeout(tick, Math.max(0, due));
    };
    const startMedia = (sdp: string) => {
      const address = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1];
      const port = Number(/^m=audio (\d+)/m.exec(sdp)?.[1]);
      if (!address || !port) return;
      remote = { address, port };
      if (mediaStarted) return;
      mediaStarted = performance.now();
      tick();
    };
    const onRtp = (packet: Buffer) => {
      if (packet.length < 12 || (packet[0] ?? 0) >> 6 !== 2) return;
      const pt = (packet[1] ?? 0) & 0x7f;
      if (pt !== PAYLOAD_TYPE[codec] || engine.done) return;
      const cc = (packet[0] ?? 0) & 0x0f;
      outcome.packets.received++;
      heard++;
      engine.receive(decodeG711(packet.subarray(12 + cc * 4), codec));
    };
    this.rtp.on("message", onRtp);

    const ended = new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        clearTimeout(giveUp);
        outcome.endedMs = since();
        resolve();
      };
      const bye = () => {
        if (!ok) return;
        const target = /<([^>]+)>/.exec(ok.get("Contact") ?? "")?.[1] ?? invite.uri;
        const request = new SipRequest("BYE", target);
        request.append("Via", `SIP/2.0/UDP ${this.host}:${sipPort};branch=z9hG4bK${randomToken()};rport`);
        request.append("From", invite.get("From") ?? "");
        request.append("To", ok.get("To") ?? "");
        request.append("Call-ID", invite.callId);
        request.append("CSeq", `${++cseq} BYE`);
        request.append("Max-Forwards", "70");
        this.sendSip(request.toBuffer());
      };
      const giveUp = setTimeout(() => {
        engine.hangup();
        switched?.hangup();
      }, options.maxMs ?? 180_000);
      engine.on("page", (progress) => {
        if (progress.pages === options.hangUpAfterPages) engine.hangup();
      });
      const faxDone = (result: FaxResult) => {
        outcome.result = result;
        if (outcome.hungUpBy === null && ok) {
          outcome.hungUpBy = "machine";
          // At once, as gateways do: the BYE may overtake our last frames (DCN) at the node.
          bye();
          return;
        }
        if (!ok) finish();
      };
      engine.once("done", (result) => {
        if (!switched) faxDone(result);
      });
      const reinvite = (): SipRequest | null => {
        if (!ok || engine.done || outcome.hungUpBy) return null;
        const target = /<([^>]+)>/.exec(ok.get("Contact") ?? "")?.[1] ?? invite.uri;
        const request = new SipRequest("INVITE", target);
        request.append("Via", `SIP/2.0/UDP ${this.host}:${sipPort};branch=z9hG4bK${randomToken()};rport`);
        request.append("From", invite.get("From") ?? "");
        request.append("To", ok.get("To") ?? "");
        request.append("Call-ID", invite.callId);
        request.append("CSeq", `${++cseq} INVITE`);
        request.append("Contact", `<sip:fax@${this.host}:${sipPort}>`);
        request.append("Max-Forwards", "70");
        request.append("Content-Type", "application/sdp");
        request.body = Buffer.from(
          t38Offer({ address: this.host, port: this.udptl.address().port, sessionId: 2 })
            .replace("o=gateway 2 2", "o=faxmachine 1 2")
            .replace("transferredTCF", options.t38LocalTcf ? "localTCF" : "transferredTCF"),
        );
        this.sendSip(request.toBuffer());
        return request;
      };
      let reinviteSent: SipRequest | null = null;
      const startT38 = (answer: string) => {
        const parsed = parseT38Offer(answer);
        if (!parsed.ok || !outcome.t38) return;
        const t38 = new T38Engine({
          calling: true,
          transmitFile: options.document,
          ident: options.ident ?? options.callerId,
          ecm: options.ecm ?? true,
          maxDatagram: parsed.offer.maxDatagram - 8,
        });
        switched = t38;
        outcome.t38.switchedMs = since();
        // The audio modem stops where it is: the fax starts again over T.38.
        clearTimeout(timer);
        engine.close();
        t38.on("page", (progress) => {
          if (progress.pages === options.hangUpAfterPages) t38.hangup();
        });
        const line = {
          socket: this.udptl,
          remote: { address: parsed.offer.address, port: parsed.offer.port },
          maxDatagram: parsed.offer.maxDatagram,
          redundancy: 3,
        };
        void faxOnUdptl(t38, line, t38Ended.signal, outcome.t38.udptl).then(faxDone);
      };
      this.sip.on("message", (data) => {
        const message = parseMessage(data);
        if (message instanceof SipRequest) {
          this.sendSip(createResponse(message, 200).toBuffer());
          if (message.method === "BYE" && message.callId === invite.callId) {
            if (outcome.hungUpBy === null) outcome.hungUpBy = "node";
            // What is in flight is heard (the node's DCN), then T.30 stops where it is.
            t38Ended.abort();
            setTimeout(() => {
              engine.hangup();
              switched?.hangup();
              finish();
            }, 300);
          }
          return;
        }
        const response = message as SipResponse;
        if (response.callId !== invite.callId) return;
        const method = (response.get("CSeq") ?? "").split(/\s+/)[1];
        if (method === "BYE") {
          if (response.status >= 200) finish();
          return;
        }
        const responseSeq = Number((response.get("CSeq") ?? "").split(/\s+/)[0]);
        if (reinviteSent && method === "INVITE" && responseSeq > 1) {
          if (response.status < 200) return;
          this.sendSip(ackOf(reinviteSent, response).toBuffer());
          if (outcome.t38?.status) return; // a 2xx resent until our ACK got there
          outcome.t38 = {
            status: response.status,
            switchedMs: null,
            udptl: { sent: 0, received: 0, recovered: 0, garbage: 0 },
          };
          if (response.status === 200) startT38(response.body.toString("utf8"));
          return;
        }
        if (response.status < 200) {
          if (response.body.length > 0 && outcome.earlyMediaMs === null) {
            outcome.earlyMediaMs = since();
            startMedia(response.body.toString("utf8"));
          }
          return;
        }
        this.sendSip(ackOf(invite, response).toBuffer());
        if (outcome.status !== 0) return; // a 2xx resent until our ACK got there
        outcome.status = response.status;
        if (response.status >= 300) {
          engine.close();
          finish();
          return;
        }
        ok = response;
        outcome.answeredMs = since();
        if (options.t38AfterMs !== undefined)
          setTimeout(() => {
            reinviteSent = reinvite();
          }, options.t38AfterMs);
        startMedia(response.body.toString("utf8"));
        if (engine.done) {
          outcome.hungUpBy = "machine";
          bye();
        }
      });
    });
    this.sendSip(invite.toBuffer());
    try {
      await ended;
    } finally {
      this.rtp.off("message", onRtp);
      this.sip.removeAllListeners("message");
      engine.close();
      (switched as T38Engine | null)?.close();
    }
    outcome.result ??= engine.result;
    return outcome;
  }

  private sendSip(data: Buffer): void {
    this.sip.send(data, this.server.port, this.server.host);
  }

  close(): void {
    this.sip.close();
    this.rtp.close();
    this.udptl.close();
  }
}
