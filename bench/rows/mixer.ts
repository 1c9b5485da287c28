import { decodeG711, encodeG711, toneSamples } from "../../media/rtc/tones.ts";
import { ConferenceMixer, FRAME } from "../../media/voice/ConferenceMixer.ts";
import { summarize } from "../lib/stats.ts";
import type { Measured } from "./edge-config.ts";

/** Participants in the measured room, ticks per round, rounds. */
const PARTICIPANTS = 50;
const TICKS = 500;
const ROUNDS = 5;

/**
 * The conference mixer's cost in the media node's Node process: per 20 ms tick, each
 * participant's G.711 frame decoded (as LegListener does), the mix (everyone but themself) and
 * each mix encoded (as the room does for its LegSpeaker). Reported as participants one core mixes
 * in real time. mediasoup's share (relaying the RTP, the DirectTransport channel) is not in it.
 */
export function mixerRows(): Measured[] {
  const speech = toneSamples([{ frequencies: [300, 700, 1100], ms: 20 }]);
  const payload = encodeG711(speech, "PCMU");
  const perCore: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const mixer = new ConferenceMixer();
    let sent = 0;
    for (let p = 0; p < PARTICIPANTS; p++) mixer.join(`p${p}`, (mix) => (sent += encodeG711(mix, "PCMU").length));
    const start = process.cpuUsage();
    for (let t = 0; t < TICKS; t++) {
      for (let p = 0; p < PARTICIPANTS; p++) mixer.hear(`p${p}`, decodeG711(payload, "PCMU"));
      mixer.tick();
    }
    const used = process.cpuUsage(start);
    const cpuPerTickMs = (used.user + used.system) / 1000 / TICKS;
    if (sent !== PARTICIPANTS * TICKS * FRAME) throw new Error("mixer bench: not every mix was encoded");
    perCore.push(Math.floor((PARTICIPANTS * 20) / cpuPerTickMs));
  }
  const s = summarize(perCore);
  return [
    {
      row: {
        name: "conference mixer",
        unit: "participants/core",
        p50: s.p50,
        p99: Math.min(...perCore),
        n: s.n,
        peer: null,
        peerP50: null,
        peerP99: null,
        ratio: null,
        target: { stat: "p50", min: 300 },
        note:
          `Node-side cost per 20 ms tick of a ${PARTICIPANTS}-participant room (G.711 decode of each frame, ` +
          `mix of everyone but oneself, G.711 encode of each mix), ${TICKS} ticks × ${ROUNDS} rounds, CPU time from ` +
          "process.cpuUsage(); participants one core keeps in real time; p99 column = worst round. " +
          "Not included: mediasoup's RTP relay and the DirectTransport channel each frame crosses twice.",
      },
      ours: perCore,
    },
  ];
}
