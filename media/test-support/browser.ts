/*
 * The loopback softphone page of the browser call tests and of `npm run bench -- browser-calls`:
 * Debian's Chromium (driven by playwright-core, never downloaded) runs SIP.js from a page served
 * on 127.0.0.1 with SIP.js's own ES modules from node_modules (no CDN, no bundling).
 */
import { accessSync, constants, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { dirname, join, normalize, sep } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { encodeWav } from "../voicemail/wav.ts";

export const CHROMIUM = "/usr/bin/chromium";

/** What the test page (PAGE_SCRIPT) puts on `globalThis.edge`. */
export interface PageApi {
  register(options: {
    server: string;
    uri: string;
    username: string;
    password: string;
    toneHz?: number;
    /** Leave incoming calls ringing until answer() (default: answered at once). */
    manualAnswer?: boolean;
  }): Promise<void>;
  call(target: string): Promise<void>;
  waitState(state: string, timeoutMs: number): Promise<void>;
  state(): string | null;
  stats(): Promise<BrowserStats>;
  tone(): { peakHz: number; level: number } | null;
  reinvite(hold: boolean): Promise<number>;
  dtmf(tones: string): Promise<number[]>;
  hangup(): Promise<void>;
  sdp(): { local: string; remote: string } | null;
  /** Answers the ringing call (manualAnswer); marks `accept` just before SIP.js's accept(). */
  answer(): void;
  /** performance.timeOrigin + performance.now(): the page's clock, in ms. */
  clock(): number;
  /** Forgets the last call's marks (before the next call, so that waitMark waits for its own). */
  clearMarks(): void;
  /** Waits for the current call's mark `name`, then returns all its marks. */
  waitMark(name: keyof CallMarks, timeoutMs: number): Promise<CallMarks>;
}

/**
 * When things happened in the page's current call, on its clock (PageApi.clock). The caller's:
 * dial (call() starts), ringing (a 180 came back); the callee's: incoming (SIP.js's onInvite, after
 * it sent its 180), accept (answer()); both: firstAudio, the first getStats() poll that found
 * inbound-rtp audio packetsReceived > 0, and firstAudioWindow, the time since the start of the
 * previous poll (which found none): the first packet arrived within that window before firstAudio.
 */
export interface CallMarks {
  dial?: number;
  ringing?: number;
  incoming?: number;
  accept?: number;
  established?: number;
  firstAudio?: number;
  firstAudioWindow?: number;
}

export interface BrowserStats {
  inbound: { packetsReceived: number; packetsLost: number; codec: string; totalSamplesReceived: number } | null;
  outbound: { packetsSent: number; codec: string } | null;
  transport: { dtlsState: string; iceState: string; srtpCipher: string; dtlsRole: string } | null;
  pair: { state: string; remote: string } | null;
}

/** A page's softphone; its methods run in the page (the function sent names nothing of ours). */
export class Softphone {
  /** The page's console (SIP.js warnings, errors), printed when a test fails. */
  readonly log: string[] = [];

  constructor(
    readonly name: string,
    readonly page: Page,
  ) {
    page.on("console", (message) => this.log.push(`[${message.type()}] ${message.text()}`));
    page.on("pageerror", (error) => this.log.push(`[pageerror] ${error.message}`));
  }

  run<K extends keyof PageApi>(method: K, ...args: Parameters<PageApi[K]>): Promise<Awaited<ReturnType<PageApi[K]>>> {
    return this.page.evaluate(
      ([name, params]) =>
        (globalThis as unknown as { edge: Record<string, (...a: unknown[]) => unknown> }).edge[name]?.(...params),
      [method, args] as [string, unknown[]],
    ) as Promise<Awaited<ReturnType<PageApi[K]>>>;
  }
}

/**
 * The page's SIP.js softphone: registers, calls, answers every incoming call at once (or when told,
 * manualAnswer), and reports RTCPeerConnection stats. Its received audio goes through a WebAudio
 * analyser to find its tone. Each call's moments are marked on the page's clock (CallMarks).
 */
export const PAGE_SCRIPT = `
import { Inviter, Registerer, RegistererState, SessionState, UserAgent, Web } from "/sip.js/index.js";

let ua = null;
let session = null;
let analyser = null;
let listening = null;
let manualAnswer = false;
// The invitation waiting for answer() (manualAnswer), and the current call's marks (CallMarks).
let pending = null;
let marks = {};
// getStats() polls for the first audio packet this often (setTimeout, so at least 4 ms anyway).
const POLL_MS = 5;
const clock = () => performance.timeOrigin + performance.now();
// No audio processing: the test checks the tone the fake microphone plays arrives as it was.
const media = {
  constraints: { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false },
};

function watch(s, m) {
  session = s;
  s.stateChange.addListener((state) => {
    console.log("session " + state);
    if (state === SessionState.Established) {
      m.established ??= clock();
      listen(s);
    }
  });
  void firstAudio(s, m);
}

// Polls the call's inbound audio until its first packet; see CallMarks.firstAudio.
async function firstAudio(s, m) {
  let before = clock();
  while (m.firstAudio === undefined && s.state !== SessionState.Terminated) {
    const pc = s.sessionDescriptionHandler?.peerConnection;
    const start = clock();
    if (pc) {
      const report = await pc.getStats();
      let received = 0;
      report.forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "audio") received += r.packetsReceived ?? 0;
      });
      if (received > 0) {
        const now = clock();
        m.firstAudio = now;
        m.firstAudioWindow = now - before;
        return;
      }
    }
    before = start;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function accept(invitation, m) {
  m.accept = clock();
  invitation.accept({ sessionDescriptionHandlerOptions: media }).catch((e) => console.log("accept: " + e));
}

// Chromium only runs a remote WebRTC track through WebAudio while an element plays it too.
function listen(s) {
  const pc = s.sessionDescriptionHandler.peerConnection;
  const stream = new MediaStream(pc.getReceivers().map((r) => r.track).filter(Boolean));
  const element = new Audio();
  element.muted = true;
  element.srcObject = stream;
  element.play().catch((e) => console.log("play: " + e));
  listening?.close();
  const context = new AudioContext();
  listening = context;
  analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  context.createMediaStreamSource(stream).connect(analyser);
  context.resume();
}

globalThis.edge = {
  async register({ server, uri, username, password, toneHz, manualAnswer: manual }) {
    manualAnswer = manual === true;
    // The fake microphone (the WAV) is the same for every page: toneHz gives this one its own tone.
    const microphone = toneHz
      ? async () => {
          const context = new AudioContext();
          const oscillator = context.createOscillator();
          oscillator.frequency.value = toneHz;
          const gain = context.createGain();
          gain.gain.value = 0.3;
          const destination = context.createMediaStreamDestination();
          oscillator.connect(gain).connect(destination);
          oscillator.start();
          await context.resume();
          return destination.stream;
        }
      : undefined;
    ua = new UserAgent({
      sessionDescriptionHandlerFactory: Web.defaultSessionDescriptionHandlerFactory(microphone),
      uri: UserAgent.makeURI(uri),
      transportOptions: { server },
      authorizationUsername: username,
      authorizationPassword: password,
      logLevel: "warn",
      // No STUN (the default is Google's): loopback only.
      sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: { iceServers: [] }, iceGatheringTimeout: 1000 },
      delegate: {
        // SIP.js has sent its 180 Ringing by now (sendInitialProvisionalResponse).
        onInvite(invitation) {
          const m = { incoming: clock() };
          marks = m;
          console.log("incoming call from " + invitation.remoteIdentity.uri);
          watch(invitation, m);
          if (manualAnswer) pending = invitation;
          else accept(invitation, m);
        },
      },
    });
    await ua.start();
    const registerer = new Registerer(ua, { expires: 300 });
    await new Promise((resolve, reject) => {
      registerer.stateChange.addListener((s) => s === RegistererState.Registered && resolve());
      registerer
        .register({ requestDelegate: { onReject: (r) => reject(new Error("REGISTER got " + r.message.statusCode)) } })
        .catch(reject);
    });
  },
  async call(target) {
    const m = { dial: clock() };
    marks = m;
    const inviter = new Inviter(ua, UserAgent.makeURI(target), { sessionDescriptionHandlerOptions: media });
    watch(inviter, m);
    await inviter.invite({
      requestDelegate: {
        onProgress: (r) => {
          if (r.message.statusCode === 180) m.ringing ??= clock();
        },
        onReject: (r) => console.log("INVITE got " + r.message.statusCode),
      },
    });
  },
  answer() {
    const invitation = pending;
    pending = null;
    if (!invitation) throw new Error("no call is ringing");
    accept(invitation, marks);
  },
  clock,
  clearMarks() {
    marks = {};
  },
  async waitMark(name, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (marks[name] === undefined) {
      if (Date.now() > deadline) throw new Error("no " + name + " within " + timeoutMs + " ms: " + JSON.stringify(marks));
      await new Promise((r) => setTimeout(r, 5));
    }
    return { ...marks };
  },
  async waitState(state, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (session?.state !== state) {
      if (Date.now() > deadline) throw new Error("session is " + session?.state + ", not " + state);
      await new Promise((r) => setTimeout(r, 20));
    }
  },
  state() {
    return session?.state ?? null;
  },
  async stats() {
    const pc = session?.sessionDescriptionHandler?.peerConnection;
    const out = { inbound: null, outbound: null, transport: null, pair: null };
    if (!pc) return out;
    const report = await pc.getStats();
    const codec = (id) => report.get(id)?.mimeType ?? "";
    report.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio")
        out.inbound = {
          packetsReceived: r.packetsReceived ?? 0,
          packetsLost: r.packetsLost ?? 0,
          codec: codec(r.codecId),
          totalSamplesReceived: r.totalSamplesReceived ?? 0,
        };
      if (r.type === "outbound-rtp" && r.kind === "audio")
        out.outbound = { packetsSent: r.packetsSent ?? 0, codec: codec(r.codecId) };
      if (r.type === "transport") {
        out.transport = {
          dtlsState: r.dtlsState ?? "",
          iceState: r.iceState ?? "",
          srtpCipher: r.srtpCipher ?? "",
          dtlsRole: r.dtlsRole ?? "",
        };
        const pair = report.get(r.selectedCandidatePairId);
        const remote = pair && report.get(pair.remoteCandidateId);
        if (pair) out.pair = { state: pair.state, remote: remote ? remote.address + ":" + remote.port : "" };
      }
    });
    return out;
  },
  // The strongest frequency of what the browser plays, and its level (dBFS).
  tone() {
    if (!analyser) return null;
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let peak = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[peak]) peak = i;
    return { peakHz: (peak * analyser.context.sampleRate) / analyser.fftSize, level: bins[peak] };
  },
  // Hold (the offer says sendonly) or resume by re-INVITE, as SIP.js's SimpleUser does; the final status.
  reinvite(hold) {
    return new Promise((resolve, reject) => {
      session
        .invite({
          sessionDescriptionHandlerOptions: { ...media, hold },
          requestDelegate: {
            onAccept: (r) => resolve(r.message.statusCode),
            onReject: (r) => resolve(r.message.statusCode),
          },
        })
        .catch(reject);
    });
  },
  // Keys by SIP INFO (application/dtmf-relay), as SIP.js's SimpleUser sends them; the final statuses.
  async dtmf(tones) {
    const statuses = [];
    for (const tone of tones) {
      statuses.push(
        await new Promise((resolve, reject) => {
          session
            .info({
              requestOptions: {
                body: {
                  contentDisposition: "render",
                  contentType: "application/dtmf-relay",
                  content: "Signal=" + tone + "\\r\\nDuration=160",
                },
              },
              requestDelegate: {
                onAccept: (r) => resolve(r.message.statusCode),
                onReject: (r) => resolve(r.message.statusCode),
              },
            })
            .catch(reject);
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return statuses;
  },
  async hangup() {
    await session.bye();
  },
  sdp() {
    const pc = session?.sessionDescriptionHandler?.peerConnection;
    return pc ? { local: pc.localDescription?.sdp ?? "", remote: pc.remoteDescription?.sdp ?? "" } : null;
  },
};
`;

const PAGE_HTML = `<!doctype html><meta charset="utf-8"><title>EdgePBX browser test</title>
<script type="module" src="/page.js"></script>`;

/** Serves the page and SIP.js's own ES modules (from node_modules: no CDN, no bundling). */
export async function servePage(): Promise<Server> {
  const sipJsDir = dirname(createRequire(import.meta.url).resolve("sip.js"));
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    if (path === "/") return void response.writeHead(200, { "content-type": "text/html" }).end(PAGE_HTML);
    if (path === "/favicon.ico") return void response.writeHead(204).end();
    if (path === "/page.js")
      return void response.writeHead(200, { "content-type": "text/javascript" }).end(PAGE_SCRIPT);
    const file = normalize(join(sipJsDir, path.replace(/^\/sip\.js\//, "")));
    if (!path.startsWith("/sip.js/") || !file.startsWith(sipJsDir + sep) || !file.endsWith(".js"))
      return void response.writeHead(404).end();
    try {
      response.writeHead(200, { "content-type": "text/javascript" }).end(readFileSync(file));
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** Debian's Chromium must be there (npm test's pretest installs it); nothing is ever downloaded. */
export function requireChromium(): void {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (npm test's pretest installs it)`);
  }
}

/**
 * Chromium for calls on loopback: fake microphone and camera permission, loopback ICE candidates
 * allowed, autoplay without a gesture; `fakeAudioFile`: a WAV for the fake microphone (else its beep).
 * `askForMicrophone`: no fake permission prompt, so a page gets the microphone (and device names)
 * only once its context grants it (BrowserContext.grantPermissions), as after a user's "Allow".
 */
export function launchChromium(options: { fakeAudioFile?: string; askForMicrophone?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      ...(options.askForMicrophone ? [] : ["--use-fake-ui-for-media-stream"]),
      "--use-fake-device-for-media-stream",
      ...(options.fakeAudioFile ? [`--use-file-for-fake-audio-capture=${options.fakeAudioFile}`] : []),
      // Chromium leaves loopback out of ICE unless told; the node's media IP here is 127.0.0.1.
      "--allow-loopback-in-peer-connection",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
}

/** A mono 16-bit WAV of a sine (a whole number of cycles, so Chromium's looping is seamless). */
export function toneWav(frequency: number, seconds: number, rate = 48_000): Buffer {
  const samples = new Int16Array(rate * seconds).map((_, i) =>
    Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * frequency * i) / rate)),
  );
  return encodeWav(samples, rate);
}
