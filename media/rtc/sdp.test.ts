import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { answerDirection, parseRemoteSdp, SdpError, writeLocalSdp } from "./sdp.ts";

const offer = (media: string, session = "c=IN IP4 192.0.2.10\r\n") =>
  `v=0\r\no=alice 2890844526 2890844527 IN IP4 192.0.2.10\r\ns=-\r\n${session}t=0 0\r\n${media}`;

function rejects(sdp: unknown, code: string, message: RegExp): void {
  assert.throws(
    () => parseRemoteSdp(sdp),
    (error: unknown) => {
      assert.ok(error instanceof SdpError, String(error));
      assert.equal(error.code, code);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe("parseRemoteSdp", () => {
  test("a typical phone offer: G.711 in its order, telephone-event, ptime, direction", () => {
    const remote = parseRemoteSdp(
      offer(
        "m=audio 49170 RTP/AVP 8 0 18 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n" +
          "a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
      ),
    );
    assert.deepEqual(remote.codecs, [
      { name: "PCMA", payloadType: 8 },
      { name: "PCMU", payloadType: 0 },
    ]);
    assert.equal(remote.telephoneEventPt, 101);
    assert.equal(remote.address, "192.0.2.10");
    assert.equal(remote.port, 49170);
    assert.equal(remote.direction, "sendrecv");
    assert.equal(remote.ptime, 20);
    assert.deepEqual(remote.offeredNames, ["PCMA/8000", "PCMU/8000", "G729/8000", "telephone-event/8000"]);
  });

  test("static payload types need no rtpmap; LF line ends; media-level c= wins", () => {
    const remote = parseRemoteSdp(offer("m=audio 4000 RTP/AVP 0\nc=IN IP4 198.51.100.7\n", "c=IN IP4 192.0.2.1\n"));
    assert.deepEqual(remote.codecs, [{ name: "PCMU", payloadType: 0 }]);
    assert.equal(remote.telephoneEventPt, null);
    assert.equal(remote.address, "198.51.100.7");
  });

  test("PCMU on a dynamic PT, a 16 kHz telephone-event ignored in favour of the 8 kHz one", () => {
    const remote = parseRemoteSdp(
      offer(
        "m=audio 4000 RTP/AVP 96 97 98\r\na=rtpmap:96 pcmu/8000\r\na=rtpmap:97 telephone-event/16000\r\n" +
          "a=rtpmap:98 telephone-event/8000\r\n",
      ),
    );
    assert.deepEqual(remote.codecs, [{ name: "PCMU", payloadType: 96 }]);
    assert.equal(remote.telephoneEventPt, 98);
  });

  test("hold: sendonly, inactive, session-level direction, and c=0.0.0.0", () => {
    const m = "m=audio 4000 RTP/AVP 0\r\n";
    assert.equal(parseRemoteSdp(offer(`${m}a=sendonly\r\n`)).direction, "sendonly");
    assert.equal(parseRemoteSdp(offer(`${m}a=inactive\r\n`)).direction, "inactive");
    assert.equal(parseRemoteSdp(offer(m, "c=IN IP4 192.0.2.1\r\na=recvonly\r\n")).direction, "recvonly");
    const zero = parseRemoteSdp(offer(m, "c=IN IP4 0.0.0.0\r\n"));
    assert.equal(zero.address, null);
    assert.equal(zero.direction, "sendonly");
    assert.equal(parseRemoteSdp(offer(`${m}a=recvonly\r\n`, "c=IN IP4 0.0.0.0\r\n")).direction, "inactive");
  });

  test("the first usable audio stream is taken; the others are kept for the answer", () => {
    const remote = parseRemoteSdp(
      offer(
        "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n" +
          "m=audio 4002 RTP/AVP 8\r\nm=video 4004 RTP/AVP 96\r\n",
      ),
    );
    assert.equal(remote.audioIndex, 1);
    assert.equal(remote.port, 4002);
    assert.deepEqual(
      remote.mediaLines.map((m) => `${m.type} ${m.protocol} ${m.format}`),
      ["audio RTP/SAVP 0", "audio RTP/AVP 8", "video RTP/AVP 96"],
    );
  });

  test("an offer without G.711 parses (the caller reports no common codec)", () => {
    const remote = parseRemoteSdp(offer("m=audio 4000 RTP/AVP 9 101\r\na=rtpmap:101 telephone-event/8000\r\n"));
    assert.deepEqual(remote.codecs, []);
    assert.deepEqual(remote.offeredNames, ["G722", "telephone-event/8000"]);
  });

  test("untrusted input: each kind of garbage gets a clear SdpError", () => {
    const m = "m=audio 4000 RTP/AVP 0\r\n";
    rejects(undefined, "malformed", /empty/);
    rejects("   ", "malformed", /empty/);
    rejects("INVITE sip:x SIP/2.0", "malformed", /v=0/);
    rejects("v=0\r\n".padEnd(20_000, "x"), "malformed", /bytes/);
    rejects(offer(""), "malformed", /no m= line/);
    rejects(offer("m=audio 70000 RTP/AVP 0\r\n"), "malformed", /port "70000"/);
    rejects(offer("m=audio 4000 RTP/AVP 0 128\r\n"), "malformed", /payload type "128"/);
    rejects(offer("m=audio 4000 RTP/AVP 0 x\r\n"), "malformed", /payload type "x"/);
    rejects(offer("m=audio 4000 RTP/AVP\r\n"), "malformed", /m= line 1/);
    rejects(offer(m, ""), "malformed", /no c= line/);
    rejects(offer(m, "c=IN IP4 pbx.example.com\r\n"), "malformed", /not an IPv4 address/);
    rejects(offer(m, "c=IN IP4 224.2.1.1/127\r\n"), "malformed", /not an IPv4 address/);
    rejects(offer(m, "c=IN IP6 2001:db8::1\r\n"), "unsupported", /IPv6/);
    rejects(offer("m=audio 0 RTP/AVP 0\r\n"), "unsupported", /no usable audio stream/);
    rejects(offer("m=audio 4000 RTP/SAVP 0\r\n"), "unsupported", /no usable audio stream.*RTP\/SAVP/);
    rejects(offer("m=audio 4000 UDP/TLS/RTP/SAVPF 0\r\n"), "malformed", /a=ice-ufrag/);
    rejects(offer("m=video 4000 RTP/AVP 96\r\n"), "unsupported", /no audio stream/);
    rejects(offer(m).replace(/o=.*\r\n/, ""), "malformed", /o= line/);
  });

  test("random bytes never throw anything but SdpError", () => {
    const base = offer("m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n");
    for (let i = 0; i < 2000; i++) {
      const chars = [...base];
      for (let j = 0; j < 4; j++)
        chars[Math.floor(Math.random() * chars.length)] = String.fromCharCode(Math.random() * 128);
      try {
        const remote = parseRemoteSdp(chars.join(""));
        assert.ok(remote.port >= 1 && remote.port <= 65535);
        assert.ok(remote.codecs.every((c) => c.payloadType >= 0 && c.payloadType <= 127));
      } catch (error) {
        assert.ok(error instanceof SdpError, `${error} for ${JSON.stringify(chars.join(""))}`);
      }
    }
  });
});

describe("writeLocalSdp", () => {
  test("an offer: c= the media IP, G.711 and telephone-event 0-16, sendrecv, ptime 20", () => {
    const sdp = writeLocalSdp({
      sessionId: "42",
      sessionVersion: 0,
      address: "203.0.113.5",
      port: 20000,
      codecs: [
        { name: "PCMU", payloadType: 0 },
        { name: "PCMA", payloadType: 8 },
      ],
      telephoneEventPt: 101,
      direction: "sendrecv",
      ptime: 20,
    });
    assert.equal(
      sdp,
      "v=0\r\no=- 42 0 IN IP4 203.0.113.5\r\ns=EdgePBX\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n" +
        "m=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
    );
    const back = parseRemoteSdp(sdp);
    assert.equal(back.telephoneEventPt, 101);
    assert.equal(back.port, 20000);
  });

  test("an answer rejects the streams it does not take with port 0, in the offer's order", () => {
    const sdp = writeLocalSdp({
      sessionId: "1",
      sessionVersion: 3,
      address: "127.0.0.1",
      port: 20002,
      codecs: [{ name: "PCMA", payloadType: 8 }],
      telephoneEventPt: null,
      direction: "recvonly",
      ptime: 20,
      mediaLines: [
        { type: "video", protocol: "RTP/AVP", format: "96" },
        { type: "audio", protocol: "RTP/AVP", format: "8" },
      ],
      audioIndex: 1,
    });
    assert.match(
      sdp,
      /m=video 0 RTP\/AVP 96\r\nm=audio 20002 RTP\/AVP 8\r\na=rtpmap:8 PCMA\/8000\r\na=ptime:20\r\na=recvonly/,
    );
    assert.doesNotMatch(sdp, /telephone-event/);
  });

  test("answer directions (RFC 3264 §6.1)", () => {
    assert.equal(answerDirection("sendonly"), "recvonly");
    assert.equal(answerDirection("recvonly"), "sendonly");
    assert.equal(answerDirection("inactive"), "inactive");
    assert.equal(answerDirection("sendrecv"), "sendrecv");
  });
});

/** What Chromium offers through SIP.js: BUNDLE, ICE (mDNS-hidden default address), DTLS actpass, Opus first. */
const BROWSER_OFFER = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0",
  "a=extmap-allow-mixed",
  "a=msid-semantic: WMS stream1",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
  "c=IN IP4 0.0.0.0",
  "a=rtcp:9 IN IP4 0.0.0.0",
  "a=candidate:1 1 udp 2113937151 3f1c5a2e-5e8b-4a0e-9a1e-0b2c3d4e5f60.local 54400 typ host generation 0",
  "a=ice-ufrag:Xy7q",
  "a=ice-pwd:b1gS3cr3tPassw0rdFor1CE+/",
  "a=ice-options:trickle",
  `a=fingerprint:sha-256 ${Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, "0").toUpperCase()).join(":")}`,
  "a=setup:actpass",
  "a=mid:0",
  "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
  "a=sendrecv",
  "a=msid:stream1 track1",
  "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "a=fmtp:111 minptime=10;useinbandfec=1",
  "a=rtpmap:63 red/48000/2",
  "a=rtpmap:9 G722/8000",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:13 CN/8000",
  "a=rtpmap:110 telephone-event/48000",
  "a=rtpmap:126 telephone-event/8000",
  "a=ssrc:3735928559 cname:k9mQ2x",
  "a=ssrc:3735928559 msid:stream1 track1",
  "",
].join("\r\n");

describe("Opus", () => {
  test("taken only over WebRTC and only at the Router's payload type 111", () => {
    const firefox = BROWSER_OFFER.replace(/ 111 /, " 109 ").replace("a=rtpmap:111 opus", "a=rtpmap:109 opus");
    assert.deepEqual(
      parseRemoteSdp(firefox).codecs.map((c) => c.name),
      ["PCMU", "PCMA"],
    );
    const phone = offer("m=audio 4000 RTP/AVP 111 0\r\na=rtpmap:111 opus/48000/2\r\n");
    assert.deepEqual(
      parseRemoteSdp(phone).codecs.map((c) => c.name),
      ["PCMU"],
    );
  });

  test("written as opus/48000/2 with in-band FEC", () => {
    const sdp = writeLocalSdp({
      sessionId: "1",
      sessionVersion: 1,
      address: "192.0.2.10",
      port: 40000,
      ptime: 20,
      codecs: [{ name: "opus", payloadType: 111 }],
      telephoneEventPt: 126,
      direction: "sendrecv",
    });
    assert.match(sdp, /^m=audio 40000 RTP\/AVP 111 126\r$/m);
    assert.match(sdp, /^a=rtpmap:111 opus\/48000\/2\r$/m);
    assert.match(sdp, /^a=fmtp:111 minptime=10;useinbandfec=1\r$/m);
  });
});

describe("WebRTC (UDP/TLS/RTP/SAVPF)", () => {
  test("a browser's offer: Opus and G.711, ICE, DTLS, its SSRC; c=0.0.0.0 is not hold", () => {
    const remote = parseRemoteSdp(BROWSER_OFFER);
    assert.equal(remote.profile, "UDP/TLS/RTP/SAVPF");
    assert.deepEqual(remote.codecs, [
      { name: "opus", payloadType: 111 },
      { name: "PCMU", payloadType: 0 },
      { name: "PCMA", payloadType: 8 },
    ]);
    assert.equal(remote.telephoneEventPt, 126);
    assert.equal(remote.direction, "sendrecv");
    assert.equal(remote.address, null);
    assert.deepEqual(remote.webrtc, {
      iceUfrag: "Xy7q",
      icePwd: "b1gS3cr3tPassw0rdFor1CE+/",
      fingerprint: { algorithm: "sha-256", value: BROWSER_OFFER.match(/sha-256 (\S+)/)?.[1] },
      setup: "actpass",
      ssrc: 3735928559,
      cname: "k9mQ2x",
      mid: "0",
    });
  });

  test("ICE credentials and fingerprints are checked, not trusted", () => {
    const replace = (from: RegExp, to: string) => BROWSER_OFFER.replace(from, to);
    rejects(replace(/a=ice-ufrag:.*\r\n/, ""), "malformed", /a=ice-ufrag/);
    rejects(replace(/a=ice-pwd:.*\r\n/, "a=ice-pwd:short\r\n"), "malformed", /a=ice-pwd/);
    rejects(replace(/a=ice-ufrag:.*\r\n/, 'a=ice-ufrag:bad"quote\r\n'), "malformed", /a=ice-ufrag/);
    rejects(replace(/a=fingerprint:.*\r\n/, ""), "unsupported", /fingerprint/);
    rejects(replace(/a=fingerprint:sha-256/, "a=fingerprint:md5"), "unsupported", /fingerprint/);
    rejects(replace(/a=fingerprint:sha-256 \S+/, "a=fingerprint:sha-256 ZZ:11"), "malformed", /fingerprint/);
    rejects(replace(/a=setup:actpass/, "a=setup:holdconn"), "unsupported", /setup/);
  });

  test("our answer: ICE-lite, BUNDLE with the offer's mid, active DTLS, our candidate and SSRC", () => {
    const fingerprint = { algorithm: "sha-256", value: Array.from({ length: 32 }, () => "AB").join(":") };
    const sdp = writeLocalSdp({
      sessionId: "9",
      sessionVersion: 0,
      address: "203.0.113.5",
      port: 40000,
      codecs: [{ name: "PCMU", payloadType: 0 }],
      telephoneEventPt: 126,
      direction: "sendrecv",
      ptime: 20,
      mediaLines: [{ type: "audio", protocol: "UDP/TLS/RTP/SAVPF", format: "111" }],
      audioIndex: 0,
      webrtc: {
        iceUfrag: "ms1ufrag",
        icePwd: "ms1passwordms1password",
        candidates: [
          { foundation: "udpcandidate", priority: 1076302079, ip: "203.0.113.5", port: 40000, protocol: "udp" },
        ],
        fingerprint,
        setup: "active",
        mid: "0",
        ssrc: { id: 1234, cname: "edgepbx" },
      },
    });
    for (const line of [
      "a=ice-lite",
      "a=group:BUNDLE 0",
      "m=audio 40000 UDP/TLS/RTP/SAVPF 0 126",
      "a=mid:0",
      "a=ice-ufrag:ms1ufrag",
      `a=fingerprint:sha-256 ${fingerprint.value}`,
      "a=setup:active",
      "a=candidate:udpcandidate 1 udp 1076302079 203.0.113.5 40000 typ host",
      "a=rtcp-mux",
      "a=ssrc:1234 cname:edgepbx",
    ])
      assert.ok(sdp.includes(`${line}\r\n`), `${line} in\n${sdp}`);
    const back = parseRemoteSdp(sdp);
    assert.equal(back.webrtc?.setup, "active");
    assert.equal(back.webrtc?.ssrc, 1234);
  });
});
