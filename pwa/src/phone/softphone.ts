import {
  type Invitation,
  Inviter,
  Registerer,
  RegistererState,
  type Session,
  SessionState,
  UserAgent,
  type Web,
} from "sip.js";
import type { SoftphoneSettings } from "../../../shared/accounts/schema.ts";
import { ApiError, api } from "../lib/api.ts";
import { type CallLogEntry, store } from "../lib/store.ts";
import {
  applySpeaker,
  applySpeakerToContext,
  deviceState,
  listDevices,
  microphoneConstraints,
  rememberMicrophone,
  rememberSpeaker,
  subscribeDevices,
} from "./devices.ts";

/**
 * The portal's softphone: SIP.js over WebSocket to the media node, registered as the extension
 * the edge links the logged-in user to (GET /api/me/softphone: the digest HA1, never a password).
 * One per page, kept while the user moves between screens, so calls go on and incoming calls ring.
 * This module (and SIP.js) is its own chunk, loaded only when the Phone screen is opened.
 */

export type Registration = "off" | "connecting" | "registered" | "unregistered" | "failed";

export interface ActiveCall {
  direction: "outgoing" | "incoming";
  remote: string;
  remoteName: string | null;
  /** calling: our INVITE is out; ringing: the far end rings; incoming: we ring; active: answered. */
  phase: "calling" | "ringing" | "incoming" | "active";
  startedAt: number;
  answeredAt: number | null;
  muted: boolean;
  held: boolean;
  /** A re-INVITE (hold or resume) is in progress. */
  holdBusy: boolean;
  keys: string;
  /** Final status of the last key's SIP INFO. */
  lastKeyStatus: number | null;
  /** The browser refused to start the remote audio on its own: a tap is needed. */
  audioBlocked: boolean;
  /** A blind transfer (REFER) of this call, with what its NOTIFYs said so far. */
  transfer: CallTransfer | null;
  /** The microphone the call sends (its sender track's label), once it has one. */
  microphone: string | null;
}

export interface CallTransfer {
  target: string;
  /** trying: REFER sent or the target rings; done: the target answered; failed: the call stays with us. */
  status: "trying" | "done" | "failed";
  /** The last status line heard ("180 Ringing", "486 Busy Here"…). */
  detail: string;
}

export interface PhoneState {
  settings: SoftphoneSettings | null;
  registration: Registration;
  problem: string | null;
  call: ActiveCall | null;
  /** Why the last call ended, shown until the next one. */
  lastEnded: string | null;
  /**
   * The voicemail box's message-waiting indication (RFC 3842 message-summary), once the media node
   * has voicemail to tell about (issue #6). null: not known; nothing sets it yet.
   */
  messagesWaiting: { new: number; old: number } | null;
}

/** Media for a new call: the chosen microphone (devices.ts), no video. */
function newCallMedia(): Web.SessionDescriptionHandlerOptions {
  return { constraints: { audio: microphoneConstraints(), video: false } };
}

let state: PhoneState = {
  settings: null,
  registration: "off",
  problem: null,
  call: null,
  lastEnded: null,
  messagesWaiting: null,
};
const listeners = new Set<(s: PhoneState) => void>();
let ua: UserAgent | null = null;
let registerer: Registerer | null = null;
let session: Session | null = null;
let audio: HTMLAudioElement | null = null;
let retry: ReturnType<typeof setTimeout> | null = null;
let retryDelay = 1000;
let ringer: { stop(): void } | null = null;
/**
 * The media options the current call was set up with. Its re-INVITEs (hold, resume) pass the same,
 * so SIP.js keeps the track it has (which may be one we switched to) instead of asking again.
 */
let callMedia: Web.SessionDescriptionHandlerOptions = newCallMedia();
/** The microphone ("" default) the current call's track was taken from. */
let callMicrophone = "";

function set(next: Partial<PhoneState>): void {
  state = { ...state, ...next };
  for (const listener of listeners) listener(state);
  // Screens outside this chunk (the header) hear about calls without loading SIP.js.
  dispatchEvent(new CustomEvent("edgepbx:phone", { detail: { registration: state.registration, call: state.call } }));
}

function setCall(patch: Partial<ActiveCall>): void {
  if (state.call) set({ call: { ...state.call, ...patch } });
}

export function phoneState(): PhoneState {
  return state;
}

export function subscribe(listener: (s: PhoneState) => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** The element remote audio plays through; outside any screen so it survives navigation. */
function audioElement(): HTMLAudioElement {
  if (!audio) {
    audio = document.createElement("audio");
    audio.autoplay = true;
    audio.id = "phone-remote-audio";
    document.body.append(audio);
    void applySpeaker(audio);
  }
  return audio;
}

/**
 * Called from the user's tap (Call, Answer): an element played inside a user gesture may play
 * later without one (autoplay rules, stricter on iOS), so the remote audio is never silent.
 */
function unlockAudio(): void {
  const element = audioElement();
  if (!element.srcObject) element.srcObject = new MediaStream();
  element.play().catch(() => {});
}

/** Plays the remote tracks; when the browser refuses, the call screen offers a tap to hear. */
function playRemote(s: Session): void {
  const handler = s.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
  const stream = handler?.remoteMediaStream;
  if (!stream) return;
  const element = audioElement();
  element.srcObject = stream;
  element.play().then(
    () => setCall({ audioBlocked: false }),
    () => setCall({ audioBlocked: true }),
  );
}

/** A tap on "Tap to hear the call". */
export function resumeAudio(): void {
  audioElement()
    .play()
    .then(
      () => setCall({ audioBlocked: false }),
      () => {},
    );
}

/** Fetches this user's extension and registers; safe to call again (does nothing when running). */
export function startPhone(): Promise<void> {
  starting ??= start().finally(() => {
    starting = null;
  });
  return starting;
}

let starting: Promise<void> | null = null;

async function start(): Promise<void> {
  if (ua) return;
  set({ registration: "connecting", problem: null });
  let settings: SoftphoneSettings;
  try {
    settings = (await api<SoftphoneSettings>("GET", "/me/softphone")).data;
  } catch (error) {
    const offline = error instanceof ApiError && error.offline;
    if (offline) addEventListener("online", () => void startPhone(), { once: true });
    set({
      registration: "failed",
      problem: offline
        ? "Calling needs a connection. The phone will register when you are back online."
        : (error as Error).message,
    });
    return;
  }
  set({ settings });
  void listDevices();
  ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${settings.extension}@${settings.domain}`),
    displayName: settings.displayName,
    authorizationUsername: settings.username,
    authorizationHa1: settings.ha1,
    transportOptions: { server: settings.wsUrl },
    logLevel: "error",
    sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: { iceServers: [] } },
    delegate: {
      onInvite: (invitation) => incoming(invitation),
      onDisconnect: (error) => {
        if (error) {
          set({ registration: "connecting", problem: "Connection to the phone server lost; reconnecting…" });
          scheduleReconnect();
        }
      },
      onConnect: () => {
        retryDelay = 1000;
        void register();
      },
    },
  });
  registerer = new Registerer(ua, { expires: 300 });
  registerer.stateChange.addListener((s) => {
    if (s === RegistererState.Registered) set({ registration: "registered", problem: null });
    else if (s === RegistererState.Unregistered && state.registration === "registered")
      set({ registration: "unregistered" });
  });
  addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", checkAfterSleep);
  try {
    await ua.start();
  } catch {
    set({ registration: "connecting", problem: "The phone server does not answer; retrying…" });
    scheduleReconnect();
  }
}

async function register(): Promise<void> {
  if (!registerer) return;
  await registerer
    .register({
      requestDelegate: {
        onReject: (response) =>
          set({
            registration: "failed",
            problem: `The phone server refused to register this extension (${response.message.statusCode} ${response.message.reasonPhrase}).`,
          }),
      },
    })
    .catch((error: Error) => set({ registration: "failed", problem: error.message }));
}

function scheduleReconnect(): void {
  if (retry || !ua) return;
  retry = setTimeout(() => {
    retry = null;
    reconnectNow();
  }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 30_000);
}

/** After a network change: a new WebSocket, then REGISTER again (onConnect). */
function reconnectNow(): void {
  if (!ua) return;
  if (retry) clearTimeout(retry);
  retry = null;
  if (ua.isConnected()) void register();
  else ua.reconnect().catch(() => scheduleReconnect());
}

/** After the device slept the socket may be dead without anyone noticing: check on wake. */
function checkAfterSleep(): void {
  if (document.visibilityState === "visible" && ua && !ua.isConnected()) reconnectNow();
}

addEventListener("edgepbx:logout", () => void stopPhone());

export async function stopPhone(): Promise<void> {
  removeEventListener("online", reconnectNow);
  document.removeEventListener("visibilitychange", checkAfterSleep);
  if (retry) clearTimeout(retry);
  retry = null;
  const stopping = ua;
  ua = null;
  if (session) await hangUp();
  await registerer?.unregister().catch(() => {});
  registerer = null;
  await stopping?.stop().catch(() => {});
  set({ registration: "off", settings: null, call: null, problem: null });
}

function newCall(direction: ActiveCall["direction"], remote: string, remoteName: string | null): ActiveCall {
  return {
    direction,
    remote,
    remoteName,
    phase: direction === "incoming" ? "incoming" : "calling",
    startedAt: Date.now(),
    answeredAt: null,
    muted: false,
    held: false,
    holdBusy: false,
    keys: "",
    lastKeyStatus: null,
    audioBlocked: false,
    transfer: null,
    microphone: null,
  };
}

function follow(s: Session): void {
  session = s;
  s.stateChange.addListener((next) => {
    if (session !== s) return;
    if (next === SessionState.Established) {
      stopRinging();
      setCall({ phase: "active", answeredAt: Date.now(), microphone: senderTrack(s)?.label ?? null });
      playRemote(s);
      // The call's getUserMedia lets the browser name its devices: list them for the picker.
      void listDevices();
    } else if (next === SessionState.Terminated) {
      stopRinging();
      const call = state.call;
      if (call) void logCall(call);
      session = null;
      const answered = call?.answeredAt != null;
      set({
        call: null,
        lastEnded:
          call?.transfer?.status === "done"
            ? `Call transferred to ${call.transfer.target}`
            : answered
              ? "Call ended"
              : call?.direction === "incoming"
                ? "Missed call"
                : "Call not answered",
      });
    }
  });
}

/** Dials a number (an extension, a speed dial, an outside number, a feature code); `name` for the screen. */
export async function dial(number: string, name: string | null = null): Promise<void> {
  if (!ua || state.call) return;
  const target = UserAgent.makeURI(`sip:${number}@${state.settings?.domain ?? ""}`);
  if (!target) return;
  unlockAudio();
  startMedia();
  const inviter = new Inviter(ua, target, { sessionDescriptionHandlerOptions: callMedia });
  set({ call: newCall("outgoing", number, name), lastEnded: null });
  follow(inviter);
  await inviter
    .invite({
      requestDelegate: {
        onProgress: (response) => {
          if (response.message.statusCode === 180 || response.message.statusCode === 183) setCall({ phase: "ringing" });
        },
        onReject: (response) =>
          set({ lastEnded: `${response.message.statusCode} ${response.message.reasonPhrase}`.trim() }),
      },
    })
    .catch((error: Error) => {
      set({ call: null, lastEnded: `Could not call: ${error.message}` });
    });
}

function incoming(invitation: Invitation): void {
  if (state.call) {
    void invitation.reject({ statusCode: 486 }).catch(() => {});
    return;
  }
  const uri = invitation.remoteIdentity.uri;
  set({ call: newCall("incoming", uri.user ?? uri.toString(), invitation.remoteIdentity.displayName || null) });
  follow(invitation);
  startRinging();
  notify(state.call);
}

export async function answer(): Promise<void> {
  const s = session;
  if (!s || state.call?.phase !== "incoming") return;
  unlockAudio();
  stopRinging();
  startMedia();
  await (s as Invitation).accept({ sessionDescriptionHandlerOptions: callMedia }).catch((error: Error) => {
    set({ lastEnded: `Could not answer: ${error.message}` });
  });
}

export async function hangUp(): Promise<void> {
  const s = session;
  if (!s) return;
  stopRinging();
  if (s.state === SessionState.Established) await s.bye().catch(() => {});
  else if (s instanceof Inviter) await s.cancel().catch(() => {});
  else await (s as Invitation).reject({ statusCode: 603 }).catch(() => {});
}

export function setMuted(muted: boolean): void {
  const handler = session?.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
  if (!handler) return;
  handler.enableSenderTracks(!muted && !state.call?.held);
  setCall({ muted });
}

/** Sends a re-INVITE (held: sendonly, else sendrecv) and returns the final status (0: none). */
function reinvite(s: Session, held: boolean): Promise<number> {
  return new Promise<number>((resolve) => {
    s.invite({
      sessionDescriptionHandlerOptions: { ...callMedia, hold: held } as Web.SessionDescriptionHandlerOptions,
      requestDelegate: {
        onAccept: (r) => resolve(r.message.statusCode ?? 0),
        onReject: (r) => resolve(r.message.statusCode ?? 0),
      },
    }).catch(() => resolve(0));
  });
}

/** Hold or resume by re-INVITE (the offer says sendonly, then sendrecv again). */
export async function setHeld(held: boolean): Promise<void> {
  const s = session;
  if (!s || s.state !== SessionState.Established || state.call?.holdBusy) return;
  setCall({ holdBusy: true });
  const status = await reinvite(s, held);
  const ok = status >= 200 && status < 300;
  if (ok) {
    const handler = s.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
    handler?.enableSenderTracks(!held && !state.call?.muted);
    handler?.enableReceiverTracks(!held);
  }
  setCall({ holdBusy: false, ...(ok ? { held } : {}) });
}

/**
 * Blind transfer (REFER, RFC 3515): the far end is connected to `number` and we leave. The media
 * node answers 202 and tells how it goes by NOTIFY (message/sipfrag: 100 Trying, then the target's
 * final status); once the target answered it sends us a BYE, which ends the call here. If the
 * transfer fails the call stays up and the screen says why.
 */
export async function transfer(number: string): Promise<void> {
  const s = session;
  const target = UserAgent.makeURI(`sip:${number}@${state.settings?.domain ?? ""}`);
  if (!s || !target || s.state !== SessionState.Established || state.call?.transfer?.status === "trying") return;
  const update = (patch: Omit<CallTransfer, "target">) => {
    if (session === s) setCall({ transfer: { target: number, ...patch } });
  };
  update({ status: "trying", detail: "" });
  await s
    .refer(target, {
      requestDelegate: {
        onReject: (r) =>
          update({ status: "failed", detail: `${r.message.statusCode} ${r.message.reasonPhrase}`.trim() }),
      },
      onNotify: (notification) => {
        void notification.accept().catch(() => {});
        const frag = /^SIP\/2\.0 (\d{3}) ?([^\r\n]*)/.exec(notification.request.body ?? "");
        if (!frag) return;
        const code = Number(frag[1]);
        const detail = `${code} ${frag[2] ?? ""}`.trim();
        if (code < 200) update({ status: "trying", detail });
        else if (code < 300) update({ status: "done", detail });
        else update({ status: "failed", detail });
      },
    })
    .catch((error: Error) => update({ status: "failed", detail: error.message }));
}

/** Clears a failed transfer's message (the user goes back to the call). */
export function dismissTransfer(): void {
  if (state.call?.transfer?.status === "failed") setCall({ transfer: null });
}

/** A key during a call, by SIP INFO (application/dtmf-relay): the media node relays it. */
export async function sendKey(key: string): Promise<void> {
  const s = session;
  if (!s || s.state !== SessionState.Established || !/^[0-9*#A-D]$/.test(key)) return;
  setCall({ keys: `${state.call?.keys ?? ""}${key}`.slice(-24) });
  const status = await new Promise<number>((resolve) => {
    s.info({
      requestOptions: {
        body: {
          contentDisposition: "render",
          contentType: "application/dtmf-relay",
          content: `Signal=${key}\r\nDuration=160`,
        },
      },
      requestDelegate: {
        onAccept: (r) => resolve(r.message.statusCode ?? 0),
        onReject: (r) => resolve(r.message.statusCode ?? 0),
      },
    }).catch(() => resolve(0));
  });
  setCall({ lastKeyStatus: status });
}

/** RTP the call's connection received and sent so far (the call screen shows audio flowing). */
export async function callStats(): Promise<{ packetsReceived: number; packetsSent: number } | null> {
  const handler = session?.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
  const pc = handler?.peerConnection;
  if (!pc) return null;
  let packetsReceived = 0;
  let packetsSent = 0;
  (await pc.getStats()).forEach(
    (r: { type: string; kind?: string; packetsReceived?: number; packetsSent?: number }) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") packetsReceived += r.packetsReceived ?? 0;
      if (r.type === "outbound-rtp" && r.kind === "audio") packetsSent += r.packetsSent ?? 0;
    },
  );
  return { packetsReceived, packetsSent };
}

// ---- audio devices ----

/** Fixes the new call's microphone (the device chosen now) before SIP.js asks for it. */
function startMedia(): void {
  callMedia = newCallMedia();
  callMicrophone = deviceState().microphone;
}

function senderTrack(s: Session | null): MediaStreamTrack | null {
  const handler = s?.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
  const sender = handler?.peerConnection?.getSenders().find((x) => x.track?.kind === "audio");
  return sender?.track ?? null;
}

/**
 * Moves the call in progress to the microphone in use now (devices.ts): a new track from
 * getUserMedia replaces the sender's (RTCRtpSender.replaceTrack, no renegotiation), keeps mute
 * and hold, and takes the old one's place in SIP.js's local stream.
 */
async function moveCallMicrophone(): Promise<void> {
  const s = session;
  const handler = s?.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
  const sender = handler?.peerConnection?.getSenders().find((x) => x.track?.kind === "audio");
  const wanted = deviceState().microphone;
  if (!s || !handler || !sender || s.state !== SessionState.Established || wanted === callMicrophone) return;
  callMicrophone = wanted;
  let track: MediaStreamTrack | undefined;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: microphoneConstraints(), video: false });
    track = stream.getAudioTracks()[0];
    if (!track) throw new Error("no audio track");
    if (session !== s) throw new Error("the call ended");
    track.enabled = !state.call?.muted && !state.call?.held;
    const old = sender.track;
    await sender.replaceTrack(track);
    if (old) {
      old.stop();
      handler.localMediaStream.removeTrack(old);
    }
    handler.localMediaStream.addTrack(track);
    setCall({ microphone: track.label });
  } catch (error) {
    track?.stop();
    if (session === s) set({ problem: `Could not switch the microphone: ${(error as Error).message}` });
  }
}

/** The microphone for calls ("" = default), remembered; a call in progress moves to it. */
export async function chooseMicrophone(id: string): Promise<void> {
  rememberMicrophone(id);
  await moveCallMicrophone();
}

/** The speaker for calls and the ringtone ("" = default), remembered; applied at once. */
export async function chooseSpeaker(id: string): Promise<void> {
  rememberSpeaker(id);
  if (audio) await applySpeaker(audio);
}

// A device plugged in or out (devicechange): the call follows what is in use now.
subscribeDevices(() => {
  void moveCallMicrophone();
  if (audio) void applySpeaker(audio);
});

// ---- ringing and notifications ----

/** A UK-style double ring from WebAudio (no audio file to fetch); silent where audio is blocked. */
function startRinging(): void {
  stopRinging();
  try {
    const context = new AudioContext();
    const gain = context.createGain();
    gain.gain.value = 0;
    gain.connect(context.destination);
    for (const hz of [400, 450]) {
      const oscillator = context.createOscillator();
      oscillator.frequency.value = hz;
      oscillator.connect(gain);
      oscillator.start();
    }
    const now = context.currentTime;
    for (let cycle = 0; cycle < 20; cycle++) {
      const t = now + cycle * 3;
      for (const [on, off] of [
        [0, 0.4],
        [0.6, 1],
      ] as const) {
        gain.gain.setValueAtTime(0.08, t + on);
        gain.gain.setValueAtTime(0, t + off);
      }
    }
    applySpeakerToContext(context);
    void context.resume().catch(() => {});
    ringer = { stop: () => void context.close().catch(() => {}) };
  } catch {
    ringer = null;
  }
}

function stopRinging(): void {
  ringer?.stop();
  ringer = null;
}

function notify(call: ActiveCall | null): void {
  if (!call || document.visibilityState === "visible") return;
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  const note = new Notification("Incoming call", {
    body: call.remoteName ? `${call.remoteName} (${call.remote})` : call.remote,
    tag: "edgepbx-call",
    requireInteraction: true,
  });
  note.onclick = () => {
    focus();
    location.hash = "#/phone";
    note.close();
  };
}

// ---- call history (IndexedDB) ----

async function logCall(call: ActiveCall): Promise<void> {
  const entry: CallLogEntry = {
    direction: call.direction,
    number: call.remote,
    name: call.remoteName,
    startedAt: new Date(call.startedAt).toISOString(),
    answered: call.answeredAt !== null,
    seconds: call.answeredAt ? Math.round((Date.now() - call.answeredAt) / 1000) : 0,
  };
  await store.logCall(entry);
  dispatchEvent(new CustomEvent("edgepbx:call-logged"));
}
