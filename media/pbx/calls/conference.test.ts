import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseRemoteSdp } from "../../rtc/sdp.ts";
import { linearToUlaw, ulawToLinear } from "../../rtc/tones.ts";
import type { SipResponse } from "../../sip/core/message.ts";
import { testDirectory } from "../../test-support/extensions.ts";
import { type CallGateway, startCallGateway } from "../../test-support/gateway.ts";
import { goertzel } from "../../test-support/goertzel.ts";
import { UdpPhone } from "../../test-support/UdpPhone.ts";
import { sleep, until } from "../../test-support/wait.ts";
import { PromptSet } from "../../voice/PromptSet.ts";

const PBX_ID = "pbx-conf";
const DOMAIN = "pbx-conf.pbx.edgepbx.local";
const PASSWORDS: Record<string, string> = { "100": "conf-pass-100", "101": "conf-pass-101", "102": "conf-pass-102" };
/** Each phone says its own tone; none of them is a DTMF frequency. */
const TONES: Record<string, number> = { "100": 400, "101": 1000, "102": 2000 };

let gateway: CallGateway;
const scratch = mkdtempSync(join(tmpdir(), "edgepbx-conf-"));

/** A desk phone in the conference: it sends its tone as PCMU and keeps what it hears. */
class Participant {
  readonly heard: Int16Array[] = [];
  private timer: NodeJS.Timeout | undefined;
  private constructor(
    readonly extension: string,
    readonly phone: UdpPhone,
    readonly rtp: Socket,
    readonly ok: SipResponse,
  ) {}

  static async dial(extension: string, room: string): Promise<Participant> {
    const phone = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    const rtp = createSocket("udp4");
    await new Promise<void>((resolve) => rtp.bind(0, "127.0.0.1", resolve));
    const ok = await phone.call(extension, DOMAIN, PASSWORDS[extension] ?? "", room, rtp.address().port);
    assert.equal(ok.status, 200, `${extension} is answered by the room`);
    const participant = new Participant(extension, phone, rtp, ok);
    rtp.on("message", (packet) => {
      if (packet.length === 172 && ((packet[1] ?? 0) & 0x7f) === 0)
        participant.heard.push(Int16Array.from(packet.subarray(12), ulawToLinear));
    });
    participant.talk();
    return participant;
  }

  /** 20 ms PCMU frames of the phone's tone to where the answer said. */
  private talk(): void {
    const answer = parseRemoteSdp(this.ok.body.toString("utf8"));
    assert.equal(answer.codecs[0]?.name, "PCMU");
    const frequency = TONES[this.extension] ?? 0;
    let n = 0;
    this.timer = setInterval(() => {
      const packet = Buffer.alloc(172);
      packet[0] = 0x80;
      packet[1] = 0;
      packet.writeUInt16BE(n & 0xffff, 2);
      packet.writeUInt32BE((n * 160) >>> 0, 4);
      packet.writeUInt32BE(0x5eed0000 + Number(this.extension), 8);
      for (let i = 0; i < 160; i++)
        packet[12 + i] = linearToUlaw(Math.round(6000 * Math.sin((2 * Math.PI * frequency * (n * 160 + i)) / 8000)));
      this.rtp.send(packet, answer.port, answer.address ?? "127.0.0.1");
      n++;
    }, 20);
  }

  /** Mean power at each phone's tone in what this phone heard over the last `ms`. */
  tonesHeard(ms = 600): Record<string, number> {
    const frames = this.heard.slice(-Math.round(ms / 20));
    const samples = Int16Array.from(frames.flatMap((f) => [...f]));
    return Object.fromEntries(Object.entries(TONES).map(([ext, hz]) => [ext, goertzel(samples, hz)]));
  }

  async hangUp(): Promise<void> {
    clearInterval(this.timer);
    this.phone.send(this.phone.inDialog(this.ok, "BYE", 10));
    let response = await this.phone.next(3000);
    while (response.status < 200) response = await this.phone.next(3000);
    assert.equal(response.status, 200);
    this.close();
  }

  private closed = false;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.rtp.close();
    this.phone.close();
  }
}

before(async () => {
  const directory = testDirectory(
    { id: PBX_ID, domain: DOMAIN, passwords: PASSWORDS, idPrefix: "ext_conf0" },
    {
      conferenceRooms: [
        { id: "conf_team01", name: "Team", number: "500", maxParticipants: 3 },
        { id: "conf_pin001", name: "Board", number: "501", pin: "2468" },
      ],
    },
  );
  const prompts = await PromptSet.create(join(scratch, "prompts"));
  gateway = await startCallGateway({ directory, rtpPorts: { min: 44000, max: 44999 }, prompts });
});

after(async () => {
  await gateway?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("conference bridge", () => {
  it("three phones in a room each hear the other two and not themselves; one leaving never stops the room", async () => {
    const people = [];
    for (const extension of ["100", "101", "102"]) people.push(await Participant.dial(extension, "500"));
    const calls = gateway.gateway.calls;
    const seated = () => Object.values(calls?.conferenceParticipants(PBX_ID) ?? {}).map((p) => p.length);
    assert.ok(await until(() => seated()[0] === 3, 3000), `three seated: ${seated()}`);
    await sleep(1500);
    for (const person of people) {
      const heard = person.tonesHeard();
      const own = heard[person.extension] ?? 0;
      const others = Object.entries(heard).filter(([ext]) => ext !== person.extension);
      console.log(
        `${person.extension} hears ${JSON.stringify(Object.fromEntries(Object.entries(heard).map(([k, v]) => [k, Math.round(v)])))}`,
      );
      for (const [ext, power] of others) assert.ok(power > 100_000, `${person.extension} hears ${ext}: ${power}`);
      assert.ok(
        own * 50 < Math.min(...others.map(([, p]) => p)),
        `${person.extension} hears no echo of itself: ${own}`,
      );
    }
    // A fourth caller finds the room full (3 seats): refused, nobody disturbed.
    const fourth = await UdpPhone.open({ host: "127.0.0.1", port: gateway.gateway.transports.udp.local.port });
    const refused = await fourth.call("100", DOMAIN, PASSWORDS["100"] ?? "", "500", 9);
    assert.equal(refused.status, 486);
    fourth.close();

    const [first, second, third] = people as [Participant, Participant, Participant];
    await first.hangUp();
    await sleep(800);
    const left = second.tonesHeard(500);
    assert.ok((left["102"] ?? 0) > 100_000, "101 still hears 102");
    assert.ok((left["100"] ?? 0) < (left["102"] ?? 0) / 50, "100 is gone from the mix");
    const records = gateway.ended.length;
    await second.hangUp();
    await third.hangUp();
    assert.ok(await until(() => gateway.ended.length >= records + 2, 3000));
    const record = gateway.ended.at(-1)?.record;
    assert.equal(record?.disposition, "answered");
    assert.equal(record?.answeredBy, "conference:Team");
    assert.deepEqual(calls?.conferenceParticipants(PBX_ID), {}, "the empty room is closed");
  });

  it("a room with a PIN seats the caller once the PIN is keyed (SIP INFO)", async () => {
    const caller = await Participant.dial("100", "501");
    try {
      const key = async (digit: string, cseq: number) => {
        const info = caller.phone.inDialog(caller.ok, "INFO", cseq, `Signal=${digit}\r\nDuration=120\r\n`);
        info.set("Content-Type", "application/dtmf-relay");
        caller.phone.send(info);
        let response = await caller.phone.next(3000);
        while (response.status < 200) response = await caller.phone.next(3000);
        assert.equal(response.status, 200);
        await sleep(150);
      };
      assert.deepEqual(gateway.gateway.calls?.conferenceParticipants(PBX_ID), { conf_pin001: [] }, "asked, not seated");
      // Keys once the prompt is heard, as a person would.
      assert.ok(await until(() => caller.heard.length > 10, 5000), "the PIN prompt plays");
      let cseq = 3;
      for (const digit of "2468#") await key(digit, cseq++);
      assert.ok(
        await until(() => (gateway.gateway.calls?.conferenceParticipants(PBX_ID).conf_pin001?.length ?? 0) === 1, 3000),
        "seated after the PIN",
      );
      await caller.hangUp();
    } finally {
      caller.close();
    }
  });

  it("callers answered at the same moment share one room", async () => {
    const people = await Promise.all(["100", "101", "102"].map((extension) => Participant.dial(extension, "500")));
    try {
      const seated = () => gateway.gateway.calls?.conferenceParticipants(PBX_ID).conf_team01?.length ?? 0;
      await until(() => seated() === 3, 3000);
      assert.equal(seated(), 3, "all three in the one room");
      await sleep(600);
      for (const person of people) {
        const heard = person.tonesHeard(400);
        for (const [ext, power] of Object.entries(heard))
          if (ext !== person.extension) assert.ok(power > 100_000, `${person.extension} hears ${ext}: ${power}`);
      }
    } finally {
      for (const person of people) await person.hangUp().catch(() => person.close());
    }
  });
});
