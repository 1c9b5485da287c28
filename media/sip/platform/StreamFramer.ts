import { findHeaderEnd, MAX_MESSAGE_BYTES, SipParseError } from "../core/message.ts";

/**
 * Cuts a byte stream (TCP) into SIP messages using Content-Length, which stream transports must
 * send (RFC 3261 §18.3). CRLF keep-alives between messages are reported so they can be answered.
 */
export class StreamFramer {
  private buffer: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns complete frames and how many keep-alive pings were seen. */
  push(chunk: Buffer): { frames: Buffer[]; pings: number } {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Buffer[] = [];
    let pings = 0;
    for (;;) {
      // RFC 5626 §4.4.1: a CRLFCRLF "ping" is answered with a CRLF "pong".
      let skip = 0;
      while (skip < this.buffer.length && (this.buffer[skip] === 0x0d || this.buffer[skip] === 0x0a)) skip++;
      if (skip > 0) {
        if (this.buffer.subarray(0, skip).includes("\r\n\r\n")) pings++;
        this.buffer = this.buffer.subarray(skip);
      }
      if (this.buffer.length === 0) break;
      const end = findHeaderEnd(this.buffer);
      if (!end) {
        if (this.buffer.length > MAX_MESSAGE_BYTES) throw new SipParseError("headers too large");
        break;
      }
      const head = this.buffer.subarray(0, end.end).toString("utf8");
      const match = /^(?:content-length|l)[ \t]*:[ \t]*(\d{1,6})[ \t]*$/im.exec(head);
      if (!match?.[1]) throw new SipParseError("stream message without Content-Length");
      const total = end.bodyStart + Number(match[1]);
      if (total > MAX_MESSAGE_BYTES) throw new SipParseError("message too large");
      if (this.buffer.length < total) break;
      frames.push(Buffer.from(this.buffer.subarray(0, total)));
      this.buffer = this.buffer.subarray(total);
    }
    return { frames, pings };
  }
}
