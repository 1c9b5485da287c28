/**
 * UDPTL (T.38 clause 9.1): datagrams encode and decode back, an IFP lost on the way is rebuilt
 * from the next datagram's redundancy, garbage is refused (null) without throwing; and the T.38
 * offer/answer in SDP.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { parseT38Offer, t38Answer, t38Offer } from "./t38Sdp.ts";
import { decodeUdptl, encodeUdptl, UdptlReceiver, UdptlSender } from "./udptl.ts";

const ifp = (n: number, length = 5) => Buffer.alloc(length, n);

describe("UDPTL", () => {
  it("encodes and decodes a datagram (short and long IFPs, redundancy)", () => {
    const packet = { seq: 0xfffe, ifp: ifp(1, 300), secondary: [ifp(2), ifp(3, 130)] };
    const datagram = encodeUdptl(packet);
    assert.deepEqual(datagram.subarray(0, 4), Buffer.from([0xff, 0xfe, 0x81, 0x2c]), "seq, then a 2-octet length");
    assert.deepEqual(decodeUdptl(datagram), packet);
    assert.deepEqual(decodeUdptl(encodeUdptl({ seq: 7, ifp: ifp(9, 1), secondary: [] })), {
      seq: 7,
      ifp: ifp(9, 1),
      secondary: [],
    });
  });

  it("rebuilds a lost IFP from the next datagram's redundancy, in order, and skips repeats", () => {
    const sender = new UdptlSender(3);
    const datagrams = [0, 1, 2, 3, 4, 5].map((n) => sender.next(ifp(n)));
    const receiver = new UdptlReceiver();
    const heard = (d: Buffer | undefined) => receiver.push(d as Buffer).map((r) => `${r.seq}:${r.ifp[0]}`);
    assert.deepEqual(heard(datagrams[0]), ["0:0"]);
    // 1 and 2 are lost: 3 brings them back.
    assert.deepEqual(heard(datagrams[3]), ["1:1", "2:2", "3:3"]);
    assert.deepEqual(heard(datagrams[2]), [], "late: already rebuilt");
    assert.deepEqual(heard(datagrams[3]), [], "a repeat");
    assert.deepEqual(heard(datagrams[4]), ["4:4"]);
    assert.equal(receiver.recovered, 2);
  });

  it("sends fewer repeats when the far end's datagrams are small", () => {
    const sender = new UdptlSender(3, 120);
    sender.next(ifp(1, 50));
    sender.next(ifp(2, 50));
    const packet = decodeUdptl(sender.next(ifp(3, 50)));
    assert.equal(packet?.secondary.length, 1);
  });

  it("refuses garbage without throwing", () => {
    const receiver = new UdptlReceiver();
    const samples = [
      Buffer.alloc(0),
      Buffer.from([1, 2]),
      Buffer.from([0, 1, 10, 1, 2]), // an IFP longer than the datagram
      Buffer.from([0, 1, 0xc1, 1, 2, 3]), // a fragmented length
      Buffer.from([0, 1, 1, 0x0d, 0x00, 5, 1, 1]), // 5 secondaries announced, none there
      Buffer.from([0, 1, 1, 0x0d, 0x00, 0, 99]), // bytes left over
      Buffer.from([0, 1, 0, 0x00, 0]), // an empty primary
    ];
    for (const sample of samples) assert.equal(decodeUdptl(sample), null, sample.toString("hex"));
    for (let i = 0; i < 2000; i++) receiver.push(randomBytes(i % 40));
    assert.ok(receiver.garbage > 0);
  });
});

describe("T.38 SDP", () => {
  it("takes a carrier's T.38 offer and answers it, refusing its other streams", () => {
    const sdp = `${t38Offer({ address: "192.0.2.7", port: 40000, sessionId: 1 })}`.replace(
      "m=image",
      "m=audio 0 RTP/AVP 0\r\nm=image",
    );
    const parsed = parseT38Offer(sdp);
    assert.ok(parsed.ok);
    assert.equal(parsed.offer.address, "192.0.2.7");
    assert.equal(parsed.offer.port, 40000);
    assert.equal(parsed.offer.maxDatagram, 400);
    assert.equal(parsed.offer.errorCorrection, "redundancy");
    const answer = t38Answer(parsed.offer, { address: "198.51.100.1", port: 50000, sessionId: 2 });
    assert.match(answer, /^m=audio 0 RTP\/AVP 0\r$/m);
    assert.match(answer, /^m=image 50000 udptl t38\r$/m);
    assert.match(answer, /^a=T38FaxRateManagement:transferredTCF\r$/m);
    assert.match(answer, /^a=T38FaxUdpEC:t38UDPRedundancy\r$/m);
  });

  it("says why it cannot take an offer, and that a plain audio re-INVITE is no T.38 at all", () => {
    const offer = t38Offer({ address: "192.0.2.7", port: 40000, sessionId: 1 });
    const local = parseT38Offer(offer.replace("transferredTCF", "localTCF"));
    assert.ok(!local.ok && local.t38 && /localtcf/i.test(local.reason));
    const audio = parseT38Offer(offer.replace("m=image 40000 udptl t38", "m=audio 40000 RTP/AVP 0"));
    assert.ok(!audio.ok && !audio.t38);
    assert.ok(!parseT38Offer("garbage\0\r\n").ok);
    const v6 = parseT38Offer(offer.replace(/IN IP4 192\.0\.2\.7/g, "IN IP6 2001:db8::1"));
    assert.ok(!v6.ok && v6.t38);
  });
});
