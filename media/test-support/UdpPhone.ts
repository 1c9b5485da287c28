import { createHash } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
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
        Authorization: digestAuthorization(chosen, username, password, "REGISTER", request.uri),
      },
    );
    this.send(again);
    return this.next();
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

export function digestAuthorization(
  challenge: Record<string, string>,
  username: string,
  password: string,
  method: string,
  uri: string,
): string {
  const algorithm = challenge.algorithm ?? "MD5";
  const hash = (s: string) =>
    createHash(algorithm === "SHA-256" ? "sha256" : "md5")
      .update(s)
      .digest("hex");
  const realm = challenge.realm ?? "";
  const nonce = challenge.nonce ?? "";
  const cnonce = "0a4f113b";
  const nc = "00000001";
  const ha1 = hash(`${username}:${realm}:${password}`);
  const ha2 = hash(`${method}:${uri}`);
  const response = hash(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Digest username="${username}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}
