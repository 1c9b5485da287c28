import {
  type Invitation,
  Inviter,
  Registerer,
  RegistererState,
  type Session,
  SessionState,
  type Notification as SipNotification,
  type URI,
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
import { type MessageCounts, parseMessageSummary } from "./mwi.ts";

/**
 * The portal's softphone: SIP.js over WebSocket to the media node, registered as the extension
 * the edge links the logged-in user to (GET /api/me/softphone: the digest HA1, never a password).
 * One per page, kept while the user moves between screens, so calls go on and incoming calls ring.
 * One call at a time, plus a consultation: during a call the user may put it on hold and place a
 * second call (`consultation`), swap between the two, hang the consultation up (the call resumes)
 * or join them (attended transfer: REFER with Replaces). Another incoming call meanwhile gets 486.
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
  /** A transfer (REFER; blind, or attended to the consultation) of this call, with what its NOTIFYs said so far. */
  transfer: CallTransfer | null;
  /** The microphone the call sends (its sender track's label), once it has one. */
  microphone: string | null;
  /** What happened beside this call, shown on its screen: why its consultation ended, or that the other call did. */
  note: string | null;
}

export interface CallTransfer {
  /** Who the call goes to: the number dialled (blind), or the consultation's party ("Carol (102)"). */
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
  /**
   * The second call, placed while `call` is on hold, to consult its party before transferring
   * `call` to them (or to go back). Always outgoing; null when there is none.
   */
  consultation: ActiveCall | null;
  /** Why the last call ended, shown until the next one. */
  lastEnded: string | null;
  /**
   * The extension's voicemail box (RFC 3842 message-summary NOTIFYs from the media node: new and
   * old, i.e. saved, voice messages). null: not known (voicemail off, or nothing heard yet).
   */
  messagesWaiting: MessageCounts | null;
}

/** Which of the two calls: the call, or the consultation placed while it waits. */
export type Line = "call" | "consultation";

/** Media for a new call: the chosen microphone (devices.ts), no video. */
function newCallMedia(): Web.SessionDescriptionHandlerOptions {
  return { constraints: { audio: microphoneConstraints(), video: false } };
}

let state: PhoneState = {
  settings: null,
  registration: "off",
  problem: null,
  call: null,
  consultation: null,
  lastEnded: null,
  messagesWaiting: null,
};
const listeners = new Set<(s: PhoneState) => void>();
let ua: UserAgent | null = null;
let registerer: Registerer | null = null;
/** The SIP.js sessions of `state.call` and `state.consultation`. */
let session: Session | null = null;
let consultSession: Session | null = null;
/** A consultation the user hangs up (Cancel): it ends without a note, and the call resumes. */
let cancelling: Session | null = null;
let audio: HTMLAudioElement | null = null;
let retry: ReturnType<typeof setTimeout> | null = null;
let retryDelay = 1000;
let ringer: { stop(): void } | null = null;
/**
 * Per call: the media options it was set up with (its re-INVITEs, hold and resume, pass the same,
 * so SIP.js keeps the track it has, which may be one we switched to, instead of asking again) and
 * the microphone ("" default) its track was taken from.
 */
const callMedia = new WeakMap<Session, { options: Web.SessionDescriptionHandlerOptions; microphone: string }>();

function set(next: Partial<PhoneState>): void {
  state = { ...state, ...next };
  for (const listener of listeners) listener(state);
  // Screens outside this chunk (the header) hear about calls without loading SIP.js.
  dispatchEvent(
    new CustomEvent("edgepbx:phone", {
      detail: { registration: state.registration, call: state.call, messagesWaiting: state.messagesWaiting },
    }),
  );
}

function setLine(line: Line, patch: Partial<ActiveCall>): void {
  const call = state[line];
  if (call) set({ [line]: { ...call, ...patch } });
}

function setCall(patch: Partial<ActiveCall>): void {
  setLine("call", patch);
}

function sessionOf(line: Line): Session | null {
  return line === "call" ? session : consultSession;
}

function lineOf(s: Session): Line | null {
  return s === session ? "call" : s === consultSession ? "consultation" : null;
}

/**
 * The call the user talks in: the consultation unless it is on hold (after a swap), else the call.
 * Mute, keys, the remote audio and its statistics follow it.
 */
export function focusedLine(): Line {
  return state.consultation && !state.consultation.held ? "consultation" : "call";
}

/** "Carol (102)", or the number alone. */
export function callParty(call: ActiveCall): string {
  return call.remoteName ? `${call.remoteName} (${call.remote})` : call.remote;
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

/**
 * Plays the remote tracks of the call in focus (one element for both calls: the one the user
 * talks in is heard); when the browser refuses, the call screen offers a tap to hear.
 */
function playRemote(): void {
  const line = focusedLine();
  const handler = sessionOf(line)?.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
  const stream = handler?.remoteMediaStream;
  if (!stream) return;
  const element = audioElement();
  if (element.srcObject !== stream) element.srcObject = stream;
  element.play().then(
    () => setLine(line, { audioBlocked: false }),
    () => setLine(line, { audioBlocked: true }),
  );
}

/** A tap on "Tap to hear the call". */
export function resumeAudio(): void {
  const line = focusedLine();
  audioElement()
    .play()
    .then(
      () => setLine(line, { audioBlocked: false }),
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
      // Out-of-dialog NOTIFYs: the node's message-waiting (unsolicited, no SUBSCRIBE).
      onNotify: (notification) => messageWaiting(notification),
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
  if (consultSession) await endSession(consultSession);
  if (session) await hangUp();
  await registerer?.unregister().catch(() => {});
  registerer = null;
  await stopping?.stop().catch(() => {});
  set({ registration: "off", settings: null, call: null, consultation: null, problem: null, messagesWaiting: null });
}

/** A message-summary NOTIFY (RFC 3842): the box's counts for the Phone screen and the header. */
function messageWaiting(notification: SipNotification): void {
  const request = notification.request;
  if (!/^message-summary\b/i.test(request.getHeader("Event") ?? "")) {
    void notification.reject({ statusCode: 489 }).catch(() => {});
    return;
  }
  void notification.accept().catch(() => {});
  const counts = parseMessageSummary(request.body ?? "");
  if (counts) set({ messagesWaiting: counts });
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
    note: null,
  };
}

/** Follows a session as the call or the consultation until it ends. */
function follow(s: Session, line: Line): void {
  if (line === "call") session = s;
  else consultSession = s;
  s.stateChange.addListener((next) => {
    const which = lineOf(s);
    if (!which) return;
    if (next === SessionState.Established) {
      if (which === "call") stopRinging();
      setLine(which, { phase: "active", answeredAt: Date.now(), microphone: senderTrack(s)?.label ?? null });
      playRemote();
      // The call's getUserMedia lets the browser name its devices: list them for the picker.
      void listDevices();
    } else if (next === SessionState.Terminated) {
      if (which === "call") callEnded(s);
      else consultationEnded(s);
    }
  });
}

/** The call ended: the dial pad again, or (the other party hung up while we consulted) the consultation stays. */
function callEnded(s: Session): void {
  stopRinging();
  const call = state.call;
  if (call) void logCall(call);
  session = null;
  const transferred = call?.transfer?.status === "done";
  const consultation = state.consultation;
  if (consultSession && consultation && !transferred) {
    // What is left is the consultation: it becomes the call (on hold or not, as it is).
    session = consultSession;
    consultSession = null;
    set({
      call: { ...consultation, note: call ? `${callParty(call)} hung up.` : null },
      consultation: null,
    });
    playRemote();
    return;
  }
  // Transferred: the node ends the consultation too; should its BYE not come, we end it.
  if (consultSession) void endSession(consultSession);
  callMedia.delete(s);
  set({
    call: null,
    lastEnded: transferred
      ? `Call transferred to ${call.transfer?.target}`
      : call?.answeredAt != null
        ? "Call ended"
        : call?.direction === "incoming"
          ? "Missed call"
          : "Call not answered",
  });
}

/**
 * The consultation ended: by Cancel (the call resumes, see cancelConsultation), by an attended
 * transfer (the node hangs it up first; the call's NOTIFY and BYE follow), or by its party (not
 * answered, declined, hung up): then the call stays on hold and says so.
 */
function consultationEnded(s: Session): void {
  const consultation = state.consultation;
  if (consultation) void logCall(consultation);
  consultSession = null;
  callMedia.delete(s);
  const call = state.call;
  const quiet = cancelling === s || call?.transfer?.status === "trying" || call?.transfer?.status === "done";
  if (cancelling === s) cancelling = null;
  const note =
    quiet || !consultation || !call
      ? null
      : `${callParty(consultation)} ${consultation.answeredAt ? "hung up" : "did not answer"}.${call.held ? ` ${callParty(call)} is on hold.` : ""}`;
  set({ consultation: null, ...(call && note ? { call: { ...call, note } } : {}) });
  if (!quiet) playRemote();
}

/** Dials a number (an extension, a speed dial, an outside number, a feature code); `name` for the screen. */
export async function dial(number: string, name: string | null = null): Promise<void> {
  if (!ua || state.call) return;
  const target = UserAgent.makeURI(`sip:${number}@${state.settings?.domain ?? ""}`);
  if (!target) return;
  unlockAudio();
  const options = newCallMedia();
  const inviter = new Inviter(ua, target, { sessionDescriptionHandlerOptions: options });
  callMedia.set(inviter, { options, microphone: deviceState().microphone });
  set({ call: newCall("outgoing", number, name), lastEnded: null });
  follow(inviter, "call");
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
      if (session === inviter) session = null;
      set({ call: null, lastEnded: `Could not call: ${error.message}` });
    });
}

function incoming(invitation: Invitation): void {
  // Busy: one call (and its consultation) at a time. The node then tries voicemail, if any.
  if (state.call) {
    void invitation.reject({ statusCode: 486 }).catch(() => {});
    return;
  }
  const uri = invitation.remoteIdentity.uri;
  set({ call: newCall("incoming", uri.user ?? uri.toString(), invitation.remoteIdentity.displayName || null) });
  follow(invitation, "call");
  startRinging();
  notify(state.call);
}

export async function answer(): Promise<void> {
  const s = session;
  if (!s || state.call?.phase !== "incoming") return;
  unlockAudio();
  stopRinging();
  const options = newCallMedia();
  callMedia.set(s, { options, microphone: deviceState().microphone });
  await (s as Invitation).accept({ sessionDescriptionHandlerOptions: options }).catch((error: Error) => {
    set({ lastEnded: `Could not answer: ${error.message}` });
  });
}

/** Ends a session whatever its state: BYE, CANCEL or (ringing here) 603 Decline. */
async function endSession(s: Session): Promise<void> {
  if (s.state === SessionState.Established) await s.bye().catch(() => {});
  else if (s instanceof Inviter) await s.cancel().catch(() => {});
  else await (s as Invitation).reject({ statusCode: 603 }).catch(() => {});
}

/** Hangs up the call (Hang up, Decline). */
export async function hangUp(): Promise<void> {
  const s = session;
  if (!s) return;
  stopRinging();
  await endSession(s);
}

/** Mutes the call in focus (the consultation while the call waits). */
export function setMuted(muted: boolean): void {
  const line = focusedLine();
  const handler = sessionOf(line)?.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
  if (!handler) return;
  handler.enableSenderTracks(!muted && !state[line]?.held);
  setLine(line, { muted });
}

/** Sends a re-INVITE (held: sendonly, else sendrecv) and returns the final status (0: none). */
function reinvite(s: Session, held: boolean): Promise<number> {
  const options = callMedia.get(s)?.options ?? newCallMedia();
  return new Promise<number>((resolve) => {
    s.invite({
      sessionDescriptionHandlerOptions: { ...options, hold: held } as Web.SessionDescriptionHandlerOptions,
      requestDelegate: {
        onAccept: (r) => resolve(r.message.statusCode ?? 0),
        onReject: (r) => resolve(r.message.statusCode ?? 0),
      },
    }).catch(() => resolve(0));
  });
}

/** Hold or resume one call by re-INVITE; true once it is as asked. */
async function holdLine(line: Line, held: boolean): Promise<boolean> {
  const s = sessionOf(line);
  const call = state[line];
  if (!s || !call || s.state !== SessionState.Established || call.holdBusy) return false;
  if (call.held === held) return true;
  setLine(line, { holdBusy: true });
  const status = await reinvite(s, held);
  const ok = status >= 200 && status < 300;
  if (ok) {
    const handler = s.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
    handler?.enableSenderTracks(!held && !state[line]?.muted);
    handler?.enableReceiverTracks(!held);
  }
  if (lineOf(s) === line) setLine(line, { holdBusy: false, ...(ok ? { held } : {}) });
  return ok && lineOf(s) === line;
}

/** Hold or resume (the offer says sendonly, then sendrecv again): the call, or the consultation. */
export async function setHeld(held: boolean, line: Line = "call"): Promise<void> {
  const ok = await holdLine(line, held);
  if (ok && line === "call" && !held) setCall({ note: null });
  if (ok) playRemote();
}

/**
 * Blind transfer (REFER, RFC 3515): the far end is connected to `number` and we leave. The media
 * node answers 202 and tells how it goes by NOTIFY (message/sipfrag: 100 Trying, then the target's
 * final status); once the target answered it sends us a BYE, which ends the call here. If the
 * transfer fails the call stays up and the screen says why.
 */
export async function transfer(number: string): Promise<void> {
  const target = UserAgent.makeURI(`sip:${number}@${state.settings?.domain ?? ""}`);
  if (target) await refer(target, number);
}

/**
 * Attended transfer: the call (on hold) is joined to the consultation's party. The REFER on the
 * call names the consultation's dialog in Replaces (SIP.js's refer(session)); the node joins the
 * two far ends, tells us by NOTIFY, and hangs up both our calls. A failure (a NOTIFY 481, 488…)
 * leaves both calls as they were and the screen says why.
 */
export async function completeTransfer(): Promise<void> {
  const c = consultSession;
  const consultation = state.consultation;
  if (!c || !consultation || c.state !== SessionState.Established) return;
  await refer(c, callParty(consultation));
}

/** REFERs the call to `to` (a URI: blind; the consultation's session: attended) and follows its NOTIFYs. */
async function refer(to: URI | Session, target: string): Promise<void> {
  const s = session;
  if (!s || s.state !== SessionState.Established || state.call?.transfer?.status === "trying") return;
  const update = (patch: Omit<CallTransfer, "target">) => {
    if (session === s) setCall({ transfer: { target, ...patch } });
  };
  update({ status: "trying", detail: "" });
  setCall({ note: null });
  await s
    .refer(to, {
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

/**
 * Consult before transferring: the call goes on hold (re-INVITE) and `number` is called as the
 * consultation. If the hold is refused nothing is dialled; if the consultation is not answered
 * the call stays on hold and says so.
 */
export async function consult(number: string, name: string | null = null): Promise<void> {
  const s = session;
  const target = UserAgent.makeURI(`sip:${number}@${state.settings?.domain ?? ""}`);
  if (!ua || !s || !target || s.state !== SessionState.Established || state.consultation) return;
  if (state.call?.transfer?.status === "trying") return;
  unlockAudio();
  setCall({ note: null, transfer: null });
  if (!(await holdLine("call", true))) {
    if (session === s) setCall({ note: "The call could not be put on hold, so nobody was called." });
    return;
  }
  if (session !== s || state.consultation || !ua) return;
  const options = newCallMedia();
  const inviter = new Inviter(ua, target, { sessionDescriptionHandlerOptions: options });
  callMedia.set(inviter, { options, microphone: deviceState().microphone });
  set({ consultation: newCall("outgoing", number, name) });
  follow(inviter, "consultation");
  const party = callParty(newCall("outgoing", number, name));
  await inviter
    .invite({
      requestDelegate: {
        onProgress: (response) => {
          const code = response.message.statusCode;
          if ((code === 180 || code === 183) && consultSession === inviter)
            setLine("consultation", { phase: "ringing" });
        },
        // Comes after the session ended (consultationEnded wrote the note): add the status.
        onReject: (response) => {
          const status = `${response.message.statusCode} ${response.message.reasonPhrase}`.trim();
          const call = state.call;
          if (cancelling !== inviter && call?.note?.startsWith(`${party} did not answer`))
            setCall({ note: call.note.replace("did not answer.", `did not answer (${status}).`) });
        },
      },
    })
    .catch((error: Error) => {
      if (consultSession !== inviter) return;
      consultSession = null;
      set({ consultation: null });
      setCall({ note: `Could not call ${party}: ${error.message}` });
      playRemote();
    });
}

/** Swaps the two calls: the one in focus goes on hold, the other resumes. */
export async function swapCalls(): Promise<void> {
  const { call, consultation } = state;
  if (!call || !consultation || consultation.phase !== "active" || call.holdBusy || consultation.holdBusy) return;
  const away: Line = focusedLine();
  const back: Line = away === "call" ? "consultation" : "call";
  if (!(await holdLine(away, true))) return;
  await holdLine(back, false);
  if (back === "call") setCall({ note: null });
  playRemote();
}

/** Cancel: hangs up the consultation (or stops its ringing) and resumes the call. */
export async function cancelConsultation(): Promise<void> {
  const c = consultSession;
  if (!c || state.call?.transfer?.status === "trying") return;
  cancelling = c;
  await endSession(c);
  // An unanswered INVITE ends on its 487; wait for that so the call is resumed once alone.
  if (consultSession === c)
    await new Promise<void>((resolve) => {
      const check = (next: SessionState) => {
        if (next !== SessionState.Terminated) return;
        c.stateChange.removeListener(check);
        resolve();
      };
      c.stateChange.addListener(check);
      setTimeout(resolve, 5000);
    });
  if (state.call?.held) await setHeld(false);
  else playRemote();
}

/** A key during a call (the one in focus), by SIP INFO (application/dtmf-relay): the media node relays it. */
export async function sendKey(key: string): Promise<void> {
  const line = focusedLine();
  const s = sessionOf(line);
  if (!s || s.state !== SessionState.Established || !/^[0-9*#A-D]$/.test(key)) return;
  setLine(line, { keys: `${state[line]?.keys ?? ""}${key}`.slice(-24) });
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
  if (lineOf(s) === line) setLine(line, { lastKeyStatus: status });
}

/** RTP a call (by default the one in focus) received and sent so far (the call screen shows audio flowing). */
export async function callStats(
  line: Line = focusedLine(),
): Promise<{ packetsReceived: number; packetsSent: number } | null> {
  const handler = sessionOf(line)?.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
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

function senderTrack(s: Session | null): MediaStreamTrack | null {
  const handler = s?.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
  const sender = handler?.peerConnection?.getSenders().find((x) => x.track?.kind === "audio");
  return sender?.track ?? null;
}

/** Moves the calls in progress (both, while consulting) to the microphone in use now. */
async function moveCallMicrophone(): Promise<void> {
  for (const line of ["call", "consultation"] as const) {
    const s = sessionOf(line);
    if (s) await moveMicrophone(s);
  }
}

/**
 * Moves a call to the microphone in use now (devices.ts): a new track from getUserMedia replaces
 * the sender's (RTCRtpSender.replaceTrack, no renegotiation), keeps mute and hold, and takes the
 * old one's place in SIP.js's local stream.
 */
async function moveMicrophone(s: Session): Promise<void> {
  const handler = s.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined;
  const sender = handler?.peerConnection?.getSenders().find((x) => x.track?.kind === "audio");
  const media = callMedia.get(s);
  const wanted = deviceState().microphone;
  if (!handler || !sender || !media || s.state !== SessionState.Established || wanted === media.microphone) return;
  media.microphone = wanted;
  let track: MediaStreamTrack | undefined;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: microphoneConstraints(), video: false });
    track = stream.getAudioTracks()[0];
    if (!track) throw new Error("no audio track");
    const line = lineOf(s);
    if (!line) throw new Error("the call ended");
    track.enabled = !state[line]?.muted && !state[line]?.held;
    const old = sender.track;
    await sender.replaceTrack(track);
    if (old) {
      old.stop();
      handler.localMediaStream.removeTrack(old);
    }
    handler.localMediaStream.addTrack(track);
    setLine(line, { microphone: track.label });
  } catch (error) {
    track?.stop();
    if (lineOf(s)) set({ problem: `Could not switch the microphone: ${(error as Error).message}` });
  }
}

/** The microphone for calls ("" = default), remembered; calls in progress move to it. */
export async function chooseMicrophone(id: string): Promise<void> {
  rememberMicrophone(id);
  await moveCallMicrophone();
}

/** The speaker for calls and the ringtone ("" = default), remembered; applied at once. */
export async function chooseSpeaker(id: string): Promise<void> {
  rememberSpeaker(id);
  if (audio) await applySpeaker(audio);
}

// A device plugged in or out (devicechange): the calls follow what is in use now.
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
