/**
 * The conference bridge with real sipp phones (issue #6's "three participants in a room, each
 * receives audio energy from the others and not an echo of itself"): each phone runs
 * test/sipp/conference-participant.xml, keys the room's PIN as RFC 4733 from sip-tester's dtmf
 * pcaps and plays its own audio with play_pcap_audio: a sine at 400, 1000 or 2000 Hz written here
 * as a pcap (test-support/rtpPcap.ts), or sip-tester's g711a.pcap (speech). What the room sends
 * each phone is captured on its media port by tcpdump (test-support/rtp-capture.ts), decoded and
 * measured per frequency (Goertzel) over windows of time picked from what the room says about
 * who is seated.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "../../../scripts/lib/net.ts";
import { decodeG711, toneSamples } from "../../rtc/tones.ts";
import { testDirectory } from "../../test-support/extensions.ts";
import { type CallGateway, startCallGateway } from "../../test-support/gateway.ts";
import { decibels, goertzel, meanPower } from "../../test-support/goertzel.ts";
import { captureRtp, hasTcpdump, type RtpCapture } from "../../test-support/rtp-capture.ts";
import { rtpPcap } from "../../test-support/rtpPcap.ts";
import { runSipp, SIPP_SCENARIOS } from "../../test-support/sipp.ts";
import { sleep, until } from "../../test-support/wait.ts";
import { PromptSet } from "../../voice/PromptSet.ts";

const PBX_ID = "pbx-confsipp";
const DOMAIN = "pbx-confsipp.pbx.edgepbx.local";
const PASSWORDS: Record<string, string> = {
  "100": "sipp-conf-100",
  "101": "sipp-conf-101",
  "102": "sipp-conf-102",
  "103": "sipp-conf-103",
};
/** The tone each phone plays; 103 speaks (g711a.pcap). None is a DTMF or join/leave frequency. */
const TONES: Record<string, number> = { "100": 400, "101": 1000, "102": 2000 };
const ROOM = { id: "conf_sipp01", name: "Sipp Board", number: "510", pin: "2468" };
/** conference-participant.xml keys 2468#, then plays its pcap: long enough for the whole test. */
const TONE_SECONDS = 16;

const tcpdump = await hasTcpdump();
let gateway: CallGateway;
const scratch = mkdtempSync(join(tmpdir(), "edgepbx-conf-sipp-"));
/** Stops the sipp phones still running when a test fails (a gateway gone leaves them retrying). */
const hangUpAll = new AbortController();

/**
 * One sipp phone in the room and the capture of what the room sends it: made ready (its pcap, its
 * ports, the capture listening), then dialled when the test says.
 */
class SippParticipant {
  private stopped = false;
  private running: Promise<{ code: number; output: string }> | null = null;
  private constructor(
    readonly extension: string,
    private readonly args: string[],
    private readonly dir: string,
    private readonly capture: RtpCapture,
  ) {}

  /** `audio` writes the pcap it plays once seated; `stayMs`: how long it stays then. */
  static async ready(extension: string, audio: (file: string) => void, stayMs: number): Promise<SippParticipant> {
    const dir = join(scratch, extension);
    mkdirSync(dir, { recursive: true });
    audio(join(dir, "participant.pcap"));
    const mediaPort = await freePort();
    const capture = await captureRtp(mediaPort);
    const server = `127.0.0.1:${gateway.gateway.transports.udp.local.port}`;
    const args = [server, "-sf", join(SIPP_SCENARIOS, "conference-participant.xml")].concat(
      ["-key", "domain", DOMAIN, "-key", "caller", extension, "-s", ROOM.number],
      ["-au", extension, "-ap", PASSWORDS[extension] ?? "", "-d", String(stayMs), "-m", "1"],
      ["-i", "127.0.0.1", "-p", String(await freePort()), "-mp", String(mediaPort)],
    );
    return new SippParticipant(extension, args, dir, capture);
  }

  dial(): this {
    this.running = runSipp(this.args, 60_000, { cwd: this.dir, signal: hangUpAll.signal });
    return this;
  }

  /** What the phone heard between two instants (epoch ms): its packets' 20 ms frames, decoded. */
  async heard(from: number, to: number): Promise<Int16Array[]> {
    const packets = (await this.capture.packets()).filter(
      (p) => p.time * 1000 >= from && p.time * 1000 < to && (p.payloadType === 8 || p.payloadType === 0),
    );
    const frames = packets.map((p) => decodeG711(p.payload, p.payloadType === 8 ? "PCMA" : "PCMU"));
    // A packet each 20 ms: most of the window arrived (none lost on loopback, some slack for timing).
    const expected = (to - from) / 20;
    assert.ok(frames.length > expected * 0.8, `${this.extension} got ${frames.length} packets of ~${expected}`);
    return frames;
  }

  async finished(): Promise<void> {
    assert.ok(this.running, `${this.extension} dialled`);
    const { code, output } = await this.running;
    await this.abandon();
    assert.equal(code, 0, `sipp ${this.extension}: ${output.slice(-1500)}`);
  }

  /** Stops the capture (once); for the cleanup after a failure too. */
  async abandon(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.capture.stop().catch(() => {});
  }
}

/**
 * What was heard: the power at each participant's tone, and of everything else, frame by frame
 * (each tone is a whole number of cycles in 20 ms, so Goertzel over a frame is exact), and of
 * each the median over the frames, so that one odd frame (a packet from sipp late for the
 * mixer's tick is silence there, once in a few runs) does not move it.
 */
function measure(frames: Int16Array[]): { tones: Record<string, number>; rest: number } {
  const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
  const each = frames.map((frame) => {
    const tones = Object.fromEntries(Object.entries(TONES).map(([ext, hz]) => [ext, goertzel(frame, hz)]));
    // Not one of the tones: speech, or the quantization noise of G.711 coding the tones.
    const rest = Math.max(0, meanPower(frame) - Object.values(tones).reduce((a, b) => a + b, 0));
    return { tones, rest };
  });
  return {
    tones: Object.fromEntries(Object.keys(TONES).map((ext) => [ext, median(each.map((e) => e.tones[ext] ?? 0))])),
    rest: median(each.map((e) => e.rest)),
  };
}

/** A -10 dBFS sine's power: each phone's tone as it sends it (toneSamples' level). */
const SENT = (32767 * 0.316) ** 2 / 2;
/** Power in dB relative to a tone as sent, for the log; "< -100" for next to nothing (the mixer takes one's own voice out exactly). */
const show = (power: number) => {
  const dB = decibels(power, SENT);
  return dB < -100 ? "< -100" : dB.toFixed(1);
};
/** How far `quiet` is below `loud`, dB; Infinity when there is none of it. */
const below = (loud: number, quiet: number) => (quiet > 0 ? decibels(loud, quiet) : Number.POSITIVE_INFINITY);
/** A tone heard about as loud as it was sent (within 6 dB). */
const heardWell = (power: number) => decibels(power, SENT) > -6;

before(async () => {
  const directory = testDirectory(
    { id: PBX_ID, domain: DOMAIN, passwords: PASSWORDS, idPrefix: "ext_csip0" },
    { conferenceRooms: [ROOM] },
  );
  const prompts = await PromptSet.create(join(scratch, "prompts"));
  gateway = await startCallGateway({ directory, rtpPorts: { min: 48000, max: 48999 }, prompts });
});

after(async () => {
  await gateway?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("conference bridge with sipp phones", { skip: tcpdump ? false : "tcpdump is not installed" }, () => {
  it("three sipp phones key the PIN (RFC 4733), each hears the other two and not itself; one leaves, the room goes on; speech (g711a.pcap) reaches the others", async () => {
    const calls = gateway.gateway.calls;
    const inRoom = () =>
      calls
        ?.conferenceParticipants(PBX_ID)
        [ROOM.id]?.map((p) => p.caller)
        .sort() ?? [];
    const tone = (extension: string) => (file: string) =>
      writeFileSync(
        file,
        rtpPcap(toneSamples([{ frequencies: [TONES[extension] ?? 0], ms: TONE_SECONDS * 1000 }]), "PCMA", {
          ssrc: 0x5eed0000 + Number(extension),
        }),
      );
    const phones: SippParticipant[] = [];
    try {
      // 100 stays 5 s once its tone plays; 101 and 102 long enough to hear 103 speak after 100 left.
      const stays = { "100": 5000, "101": 15_000, "102": 15_000 };
      for (const phone of await Promise.all(
        Object.entries(stays).map(([extension, stayMs]) => SippParticipant.ready(extension, tone(extension), stayMs)),
      ))
        phones.push(phone);
      const [a, b, c] = phones as [SippParticipant, SippParticipant, SippParticipant];

      // All three call at once: answered and asked the PIN (the room opens, nobody seated yet), then
      // seated in the one room once they have keyed it.
      for (const phone of phones) phone.dial();
      assert.ok(
        await until(() => calls?.conferenceParticipants(PBX_ID)[ROOM.id] !== undefined, 5000),
        "the room answers",
      );
      assert.deepEqual(inRoom(), [], "asked the PIN, not seated yet");
      assert.ok(await until(() => inRoom().length === 3, 10_000), `three seated: ${inRoom()}`);
      assert.deepEqual(inRoom(), ["100", "101", "102"]);
      const seated = Date.now();
      // Half a second on, the join tone (220 ms) is over and the phones' tones play.
      await sleep(2000);
      assert.deepEqual(inRoom(), ["100", "101", "102"], "all three still in");
      for (const phone of phones) {
        const heard = measure(await phone.heard(seated + 500, seated + 2000));
        const own = heard.tones[phone.extension] ?? 0;
        const others = Object.entries(heard.tones).filter(([ext]) => ext !== phone.extension);
        const margin = below(Math.min(...others.map(([, p]) => p)), own);
        console.log(
          `${phone.extension} hears ${others.map(([ext, p]) => `${ext} ${show(p)} dB`).join(", ")}, itself ${show(own)} dB (re each tone as sent): its own ${margin > 100 ? "over 100" : margin.toFixed(1)} dB below the quieter other`,
        );
        for (const [ext, power] of others)
          assert.ok(heardWell(power), `${phone.extension} hears ${ext}: ${show(power)} dB`);
        assert.ok(margin >= 20, `${phone.extension} hears no echo of itself: ${margin.toFixed(1)} dB below the others`);
      }

      // 100 hangs up after its 5 s: the room goes on for 101 and 102.
      await a.finished();
      assert.ok(await until(() => inRoom().length === 2, 3000), `100 left: ${inRoom()}`);
      assert.deepEqual(inRoom(), ["101", "102"]);
      const left = Date.now();
      // 103 dials in now: keying its PIN takes over 2 s, so the next 1.5 s are 101 and 102 alone.
      const g711a = (file: string) => copyFileSync("/usr/share/sip-tester/g711a.pcap", file);
      phones.push((await SippParticipant.ready("103", g711a, 6000)).dial());
      const d = phones[3] as SippParticipant;
      await sleep(Math.max(0, left + 1600 - Date.now()));
      const alone: Record<string, ReturnType<typeof measure>> = {};
      for (const [phone, other] of [
        [b, c],
        [c, b],
      ] as const) {
        const heard = measure(await phone.heard(left + 500, left + 1500));
        alone[phone.extension] = heard;
        const from = heard.tones[other.extension] ?? 0;
        const gone = heard.tones["100"] ?? 0;
        const own = heard.tones[phone.extension] ?? 0;
        console.log(
          `after 100 left, ${phone.extension} hears ${other.extension} ${show(from)} dB, 100 ${show(gone)} dB, itself ${show(own)} dB`,
        );
        assert.ok(heardWell(from), `${phone.extension} still hears ${other.extension}`);
        assert.ok(below(from, gone) >= 20, `100 is gone from ${phone.extension}'s mix`);
        assert.ok(below(from, own) >= 20, `${phone.extension} hears no echo of itself`);
      }

      // 103 seated: a little over a second into g711a.pcap its speech begins (about -20 dBFS).
      assert.ok(await until(() => inRoom().length === 3, 10_000), `103 seated: ${inRoom()}`);
      assert.deepEqual(inRoom(), ["101", "102", "103"]);
      const joined = Date.now();
      await sleep(4700);
      const speech: Record<string, ReturnType<typeof measure>> = {};
      for (const phone of [b, c, d]) speech[phone.extension] = measure(await phone.heard(joined + 1600, joined + 4600));
      for (const phone of [b, c]) {
        const rest = speech[phone.extension]?.rest ?? 0;
        const before = alone[phone.extension]?.rest ?? 0;
        console.log(
          `${phone.extension} hears besides the tones ${show(before)} dB before 103, ${show(rest)} dB while 103 speaks`,
        );
        assert.ok(below(rest, before) >= 15, `103's speech reaches ${phone.extension}`);
      }
      const talker = speech["103"] ?? { tones: {}, rest: 0 };
      const echo = Math.min(...[b, c].map((p) => below(speech[p.extension]?.rest ?? 0, talker.rest)));
      console.log(
        `103 hears 101 ${show(talker.tones["101"] ?? 0)} dB, 102 ${show(talker.tones["102"] ?? 0)} dB, besides the tones ${show(talker.rest)} dB: ${echo.toFixed(1)} dB below its speech at 101 and 102`,
      );
      for (const ext of ["101", "102"]) assert.ok(heardWell(talker.tones[ext] ?? 0), `103 hears ${ext}`);
      assert.ok(echo >= 20, "103 hears no echo of its speech");

      for (const phone of phones.slice(1)) await phone.finished();
      assert.ok(await until(() => calls?.conferenceParticipants(PBX_ID)[ROOM.id] === undefined, 3000), "room closed");
      const records = gateway.ended.filter((e) => e.record.answeredBy === `conference:${ROOM.name}`);
      assert.deepEqual(records.map((e) => e.record.from).sort(), ["100", "101", "102", "103"]);
    } finally {
      hangUpAll.abort();
      for (const phone of phones) await phone.abandon();
    }
  });
});
