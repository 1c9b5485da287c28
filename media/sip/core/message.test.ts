import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import { parseNameAddr, parseReplaces, parseUri, parseVia, uriHeader } from "./headers.ts";
import { parseMessage, SipParseError, SipRequest, SipResponse, splitList } from "./message.ts";

const crlf = (lines: string[]) => Buffer.from(`${lines.join("\r\n")}\r\n\r\n`);

describe("parseMessage", () => {
  it("reads a request with compact, folded and list headers", () => {
    const message = parseMessage(
      crlf([
        "REGISTER sip:pbx.example.com SIP/2.0",
        "v: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-1;rport",
        "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-2,",
        " SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-3",
        'f: "Alice, A." <sip:100@pbx.example.com>;tag=abc',
        "t: <sip:100@pbx.example.com>",
        "i: call-1@10.0.0.5",
        "CSeq: 7 REGISTER",
        "m: <sip:100@10.0.0.5:5062>;expires=60, <sip:100@10.0.0.6>",
        "l: 0",
      ]),
    );
    assert.ok(message instanceof SipRequest);
    assert.equal(message.method, "REGISTER");
    assert.equal(message.getAll("Via").length, 3);
    assert.equal(message.callId, "call-1@10.0.0.5");
    assert.deepEqual(message.getAll("Contact"), ["<sip:100@10.0.0.5:5062>;expires=60", "<sip:100@10.0.0.6>"]);
    assert.equal(parseNameAddr(message.get("From") ?? "")?.displayName, "Alice, A.");
    assert.equal(parseVia(message.getAll("Via")[0] ?? "")?.params.rport, null);
  });

  it("serialises with a correct Content-Length and parses back the same", () => {
    const request = new SipRequest("OPTIONS", "sip:100@pbx.example.com");
    request.append("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x");
    request.append("From", "<sip:a@b>;tag=1");
    request.append("To", "<sip:100@pbx.example.com>");
    request.append("Call-ID", "c1");
    request.append("CSeq", "1 OPTIONS");
    request.body = Buffer.from("héllo");
    const again = parseMessage(request.toBuffer());
    assert.equal(again.get("Content-Length"), String(Buffer.byteLength("héllo")));
    assert.equal(again.body.toString(), "héllo");
  });

  it("refuses what is not SIP/2.0 with a SipParseError", () => {
    const cases: [string, RegExp][] = [
      ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", /start line/],
      ["INVITE sip:a@b SIP/7.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n", /version/],
      [
        "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\n\r\n",
        /CSeq/,
      ],
      ["OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n", /missing/],
      [
        "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 50\r\nVia: x\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\nshort",
        /Content-Length/,
      ],
      ["no headers end", /end of headers/],
    ];
    for (const [text, pattern] of cases) {
      assert.throws(
        () => parseMessage(Buffer.from(text)),
        (e: unknown) => e instanceof SipParseError && pattern.test(e.message),
        text,
      );
    }
    assert.throws(() => parseMessage(Buffer.alloc(70_000, 65)), SipParseError);
  });

  it("survives every RFC 4475 torture message: a message or a SipParseError, nothing else", () => {
    const dir = resolve(import.meta.dirname, "../../../../shared/sip-torture");
    const files = readdirSync(dir).filter((f) => f.endsWith(".dat"));
    assert.ok(files.length >= 50, `torture corpus at ${dir}`);
    const results: Record<string, string> = {};
    for (const file of files) {
      try {
        const message = parseMessage(readFileSync(resolve(dir, file)));
        results[file] = message instanceof SipResponse ? `response ${message.status}` : `request ${message.method}`;
      } catch (error) {
        assert.ok(error instanceof SipParseError, `${file}: ${(error as Error).stack}`);
        results[file] = `error: ${error.message}`;
      }
    }
    // Valid ones the gateway must read (RFC 4475 §3.1.1) …
    for (const file of [
      "wsinv.dat",
      "intmeth.dat",
      "esc01.dat",
      "escnull.dat",
      "esc02.dat",
      "lwsdisp.dat",
      "longreq.dat",
      "dblreq.dat",
      "semiuri.dat",
      "transports.dat",
      "mpart01.dat",
    ])
      assert.match(results[file] ?? "", /^request/, `${file}: ${results[file]}`);
    assert.match(results["unreason.dat"] ?? "", /^response 200/);
    assert.match(results["noreason.dat"] ?? "", /^response 100/);
    // … and invalid ones it must not take as well-formed.
    for (const file of ["clerr.dat", "ncl.dat", "scalar02.dat"])
      assert.match(results[file] ?? "", /^error/, `${file}: ${results[file]}`);
  });
});

describe("header views", () => {
  it("splits lists only at top-level commas", () => {
    assert.deepEqual(splitList('"a, b" <sip:x@y>, <sip:z@w;p=1,2>'), ['"a, b" <sip:x@y>', "<sip:z@w;p=1,2>"]);
  });

  it("reads SIP URIs and refuses junk", () => {
    assert.deepEqual(parseUri("sip:100@PBX.example.com:5070;transport=tcp"), {
      scheme: "sip",
      user: "100",
      host: "pbx.example.com",
      port: 5070,
      params: { transport: "tcp" },
      headers: "",
    });
    assert.equal(parseUri("http://example.com"), null);
    assert.equal(parseUri("sip:a@b:99999"), null);
    assert.equal(parseUri("sip:a@bad host"), null);
  });

  it("reads the Replaces a Refer-To carries (attended transfer) and refuses one without both tags", () => {
    const referTo = parseNameAddr(
      "<sip:102@pbx.example.com?Replaces=abc%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1&Require=replaces>",
    );
    assert.ok(referTo);
    assert.equal(referTo.uri.user, "102");
    const value = uriHeader(referTo.uri, "replaces");
    assert.equal(value, "abc@host;to-tag=t1;from-tag=f1");
    assert.deepEqual(parseReplaces(value ?? ""), { callId: "abc@host", toTag: "t1", fromTag: "f1", earlyOnly: false });
    assert.equal(uriHeader(referTo.uri, "Require"), "replaces");
    assert.equal(uriHeader(referTo.uri, "Subject"), null);
    assert.equal(parseReplaces("abc@host;to-tag=t1"), null);
    assert.equal(parseReplaces(";to-tag=t1;from-tag=f1"), null);
    assert.equal(parseReplaces("x;to-tag=1;from-tag=2;early-only")?.earlyOnly, true);
    const badEscape = parseNameAddr("<sip:102@h?Replaces=%E0%A4%A>");
    assert.ok(badEscape);
    assert.equal(uriHeader(badEscape.uri, "Replaces"), null);
  });
});
