import { createSocket, type Socket } from "node:dgram";
import { digestAuthorization } from "../sip/core/digest.ts";
import { parseDigest } from "../sip/core/headers.ts";
import { parseMessage, type SipMessage, SipRequest, SipResponse } from "../sip/core/message.ts";
import { createResponse } from "../sip/core/responses.ts";

/** A scriptable phone on a real UDP socket, for tests that need exact control of every header. */
export class UdpPhone {
  private readonly queue: SipMessage[] = [];
  private waiters: (() => void)[] = [];
  private cseq = 0;
  readonly callId = `${Math.random().toString(36).slice(2)}@test`;

  private constructor(
    readonly socket: Socket,
    readonly port: number,
    private readonly server: { host: string; port: number },
  ) {
    socket.on("message", (data) => {
      this.queue.push(parseMessage(data));
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async open(server: { host: string; port: number }): Promise<UdpPhone> {
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    return new UdpPhone(socket, socket.address().port, server);
  }

  sendRaw(data: Buffer | string): void {
    this.socket.send(typeof data === "string" ? Buffer.from(data) : data, this.server.port, this.server.host);
  }

  /** A REGISTER for `user` at `domain`; `headers` are added or replace the defaults. */
  register(user: string, domain: string, headers: Record<string, string> = {}, cseq = ++this.cseq): SipRequest {
    const request = new SipRequest("REGISTER", `sip:${domain}`);
    request.append(
      "Via",
      `SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    );
    request.append("From", `<sip:${user}@${domain}>;tag=t${this.port}`);
    request.append("To", `<sip:${user}@${domain}>`);
    request.append("Call-ID", this.callId);
    request.append("CSeq", `${cseq} REGISTER`);
    request.append("Contact", `<sip:${user}@127.0.0.1:${this.port}>`);
    request.append("Max-Forwards", "70");
    request.append("Expires", "300");
    for (const [name, value] of Object.entries(headers)) request.set(name, value);
    return request;
  }

  send(request: SipRequest): void {
    this.sendRaw(request.toBuffer());
  }

  /** Answers a request the PBX sent to this phone (486 Busy Here, for example). */
  answer(request: SipRequest, status: number): void {
    this.sendRaw(createResponse(request, status).toBuffer());
  }

  /** The next request sent to this phone (an INVITE from the PBX, for example). */
  async nextRequest(timeoutMs = 2000): Promise<SipRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.queue.findIndex((m) => m instanceof SipRequest);
      if (index >= 0) return this.queue.splice(index, 1)[0] as SipRequest;
      if (Date.now() > deadline) throw new Error("no request");
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async next(timeoutMs = 2000): Promise<SipResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.queue.findIndex((m) => m instanceof SipResponse);
      if (index >= 0) return this.queue.splice(index, 1)[0] as SipResponse;
      if (Date.now() > deadline) throw new Error("no response");
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Sends, and answers a 401 challenge with digest credentials (the first challenge, or `algorithm`'s). */
  async registerWithAuth(
    request: SipRequest,
    username: string,
    password: string,
    algorithm?: "MD5" | "SHA-256",
  ): Promise<SipResponse> {
    this.send(request);
    const challenge = await this.next();
    if (challenge.status !== 401) return challenge;
    const challenges = challenge.getAll("WWW-Authenticate").map((h) => parseDigest(h) ?? {});
    const chosen = challenges.find((c) => !algorithm || c.algorithm === algorithm) ?? {};
    const again = this.register(
      /sip:([^@]+)@/.exec(request.get("To") ?? "")?.[1] ?? username,
      request.uri.replace(/^sip:/, ""),
      {
        Contact: request.get("Contact") ?? "",
        Expires: request.get("Expires") ?? "300",
        Authorization: digestAuthorization(chosen, { username, password }, "REGISTER", request.uri),
      },
    );
    this.send(again);
    return this.next();
  }

  /**
   * Calls `dialled` with a G.711 offer whose RTP port is `rtpPort`, answers the 407 with digest
   * credentials and ACKs the final response; resolves with it.
   */
  async call(user: string, domain: string, password: string, dialled: string, rtpPort: number): Promise<SipResponse> {
    const tag = `c${Math.random().toString(36).slice(2)}`;
    const callId = `${Math.random().toString(36).slice(2)}@phone`;
    const sdp = [
      "v=0",
      `o=phone 1 1 IN IP4 127.0.0.1`,
      "s=-",
      "c=IN IP4 127.0.0.1",
      "t=0 0",
      `m=audio ${rtpPort} RTP/AVP 0 8 101`,
      "a=rtpmap:0 PCMU/8000",
      "a=rtpmap:8 PCMA/8000",
      "a=rtpmap:101 telephone-event/8000",
      "",
    ].join("\r\n");
    const build = (cseq: number, authorization?: string) => {
      const invite = new SipRequest("INVITE", `sip:${dialled}@${domain}`);
      invite.append(
        "Via",
        `SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
      );
      invite.append("From", `<sip:${user}@${domain}>;tag=${tag}`);
      invite.append("To", `<sip:${dialled}@${domain}>`);
      invite.append("Call-ID", callId);
      invite.append("CSeq", `${cseq} INVITE`);
      invite.append("Contact", `<sip:${user}@127.0.0.1:${this.port}>`);
      invite.append("Max-Forwards", "70");
      if (authorization) invite.append("Proxy-Authorization", authorization);
      invite.append("Content-Type", "application/sdp");
      invite.body = Buffer.from(sdp);
      return invite;
    };
    const finalOf = async (invite: SipRequest) => {
      this.send(invite);
      for (;;) {
        const response = await this.next(5000);
        if (response.status < 200) continue;
        this.send(ackOf(invite, response));
        return response;
      }
    };
    const first = build(1);
    const challenge = await finalOf(first);
    if (challenge.status !== 407) return challenge;
    const params = parseDigest(challenge.get("Proxy-Authenticate") ?? "") ?? {};
    return finalOf(build(2, digestAuthorization(params, { username: user, password }, "INVITE", first.uri)));
  }

  /**
   * A request inside the dialog that `ok` (the 2xx to our INVITE) set up: re-INVITE, BYE, or the
   * ACK of a re-INVITE (same `cseq`). `sdp` makes it carry an offer or answer.
   */
  inDialog(ok: SipResponse, method: string, cseq: number, sdp?: string): SipRequest {
    const target = /<([^>]+)>/.exec(ok.get("Contact") ?? "")?.[1] ?? "";
    const request = new SipRequest(method, target);
    request.append(
      "Via",
      `SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    );
    request.append("From", ok.get("From") ?? "");
    request.append("To", ok.get("To") ?? "");
    request.append("Call-ID", ok.callId);
    request.append("CSeq", `${cseq} ${method}`);
    request.append("Contact", `<sip:phone@127.0.0.1:${this.port}>`);
    request.append("Max-Forwards", "70");
    if (sdp !== undefined) {
      request.append("Content-Type", "application/sdp");
      request.body = Buffer.from(sdp);
    }
    return request;
  }

  /**
   * Answers an INVITE the PBX sent this phone: 180, then 200 with a PCMU (+ telephone-event)
   * answer whose RTP port is `rtpPort`. Returns the To tag that makes the dialog.
   */
  answerInvite(invite: SipRequest, rtpPort: number): string {
    const tag = `a${Math.random().toString(36).slice(2)}`;
    this.sendRaw(createResponse(invite, 180, undefined, undefined, tag).toBuffer());
    const ok = createResponse(invite, 200, undefined, undefined, tag);
    ok.append("Contact", `<sip:phone@127.0.0.1:${this.port}>`);
    ok.append("Content-Type", "application/sdp");
    ok.body = Buffer.from(
      [
        "v=0",
        "o=phone 7 7 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        `m=audio ${rtpPort} RTP/AVP 0 101`,
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=sendrecv",
        "",
      ].join("\r\n"),
    );
    this.sendRaw(ok.toBuffer());
    return tag;
  }

  /** A request inside a dialog this phone answered (`invite` from the PBX, our `toTag`). */
  inDialogAsCallee(invite: SipRequest, toTag: string, method: string, cseq: number): SipRequest {
    const target = /<([^>]+)>/.exec(invite.get("Contact") ?? "")?.[1] ?? "";
    const request = new SipRequest(method, target);
    request.append(
      "Via",
      `SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    );
    request.append("From", `${invite.get("To") ?? ""};tag=${toTag}`);
    request.append("To", invite.get("From") ?? "");
    request.append("Call-ID", invite.callId);
    request.append("CSeq", `${cseq} ${method}`);
    request.append("Contact", `<sip:phone@127.0.0.1:${this.port}>`);
    request.append("Max-Forwards", "70");
    return request;
  }

  /** The next request of `method` sent to this phone (others, such as retransmissions, are skipped). */
  async nextRequestOf(method: string, timeoutMs = 5000): Promise<SipRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const request = await this.nextRequest(Math.max(1, deadline - Date.now()));
      if (request.method === method) return request;
    }
  }

  /** Removes this phone's binding (REGISTER with Expires: 0), then closes the socket. */
  async unregisterAndClose(user: string, domain: string, password: string): Promise<void> {
    const request = this.register(user, domain, { Expires: "0" });
    await this.registerWithAuth(request, user, password);
    this.close();
  }

  close(): void {
    this.socket.close();
  }
}

/** The ACK for a final response to our INVITE (§17.1.1.3 for non-2xx, a new transaction for 2xx). */
export function ackOf(invite: SipRequest, response: SipResponse): SipRequest {
  const contact = /<([^>]+)>/.exec(response.get("Contact") ?? "")?.[1];
  const ack = new SipRequest("ACK", response.status < 300 && contact ? contact : invite.uri);
  const via = invite.get("Via") ?? "";
  ack.append(
    "Via",
    response.status < 300 ? via.replace(/branch=[^;]+/, `branch=z9hG4bK${Math.random().toString(36).slice(2)}`) : via,
  );
  ack.append("From", invite.get("From") ?? "");
  ack.append("To", response.get("To") ?? "");
  ack.append("Call-ID", invite.callId);
  ack.append("CSeq", `${(invite.get("CSeq") ?? "1").split(" ")[0]} ACK`);
  ack.append("Max-Forwards", "70");
  return ack;
}
