import { useEffect, useState } from "preact/hooks";
import type { DirectoryEntry } from "../../../shared/accounts/schema.ts";
import { FEATURE_CODES } from "../../../shared/config/schema.ts";
import { Alert } from "../lib/forms.tsx";
import { type CallLogEntry, store } from "../lib/store.ts";
import { allowMicrophone, type DeviceState, deviceState, listDevices, subscribeDevices } from "../phone/devices.ts";
import { newVoicemailsText } from "../phone/mwi.ts";
import {
  type ActiveCall,
  answer,
  type CallTransfer,
  callParty,
  callStats,
  cancelConsultation,
  chooseMicrophone,
  chooseSpeaker,
  completeTransfer,
  consult,
  dial,
  dismissTransfer,
  hangUp,
  type PhoneState,
  phoneState,
  resumeAudio,
  sendKey,
  setHeld,
  setMuted,
  startPhone,
  subscribe,
  swapCalls,
  transfer,
} from "../phone/softphone.ts";

/**
 * Phone: the softphone of the user's linked extension. Registration state, a dial pad (tap,
 * type or paste), Call; an incoming call with Answer and Decline; the call with its duration,
 * Mute, Hold, the keypad (keys go as SIP INFO), Transfer (blind, by REFER: a number from the pad
 * or the directory, then how it went), Consult (attended transfer: the call waits on hold while
 * the user calls someone, then Complete transfer, Cancel or Swap) and Hang up; recent calls with
 * redial; Voicemail (the PBX's feature code) with the new messages the box has; Audio devices
 * (microphone and speaker, remembered in this browser).
 */

/** The PBX's voicemail access code (shared/config: the dial plan answers it, the validator reserves it). */
const VOICEMAIL = FEATURE_CODES.voicemail;

const KEYS: [string, string][] = [
  ["1", ""],
  ["2", "ABC"],
  ["3", "DEF"],
  ["4", "GHI"],
  ["5", "JKL"],
  ["6", "MNO"],
  ["7", "PQRS"],
  ["8", "TUV"],
  ["9", "WXYZ"],
  ["*", ""],
  ["0", ""],
  ["#", ""],
];

const KIND_LABEL: Record<DirectoryEntry["kind"], string> = {
  extension: "Extension",
  speedDial: "Speed dial",
  ringGroup: "Ring group",
  conference: "Conference room",
};

const REGISTRATION_TEXT: Record<PhoneState["registration"], string> = {
  off: "Not started",
  connecting: "Connecting…",
  registered: "Ready: you can make and take calls",
  unregistered: "Not registered",
  failed: "Not registered",
};

function usePhone(): PhoneState {
  const [value, setValue] = useState(phoneState);
  useEffect(() => {
    const stop = subscribe(setValue);
    setValue(phoneState());
    void startPhone();
    return stop;
  }, []);
  return value;
}

/** Audio devices unfolded: kept while the screen changes between the pad and a call. */
let devicesOpen = false;

function useDevices(): DeviceState {
  const [value, setValue] = useState(deviceState);
  useEffect(() => {
    const stop = subscribeDevices(setValue);
    void listDevices();
    return stop;
  }, []);
  return value;
}

/** What may be dialled: digits, * and #; pasted numbers lose their spaces, dashes and brackets. */
export function cleanNumber(text: string): string {
  return text.replace(/^\+/, "00").replace(/[^0-9*#]/g, "");
}

/** For main.tsx: registers as soon as a user with an extension is logged in. */
export function startPhoneInBackground(): void {
  void startPhone();
}

export function Phone() {
  const phone = usePhone();
  const call = phone.call;
  const title = phone.settings ? `Phone · ${phone.settings.extension} ${phone.settings.displayName}` : "Phone";
  return (
    <div class="phone">
      <h1>{title}</h1>
      <p class={`registration ${phone.registration}`} role="status" data-state={phone.registration}>
        <span class="dot" aria-hidden="true" /> {REGISTRATION_TEXT[phone.registration]}
      </p>
      {phone.problem ? <Alert>{phone.problem}</Alert> : null}
      {call?.phase === "incoming" ? (
        <IncomingCall call={call} />
      ) : call && phone.consultation ? (
        <ConsultScreen call={call} consultation={phone.consultation} />
      ) : call ? (
        <CallScreen call={call} />
      ) : (
        <DialPad phone={phone} />
      )}
      {call ? <AudioDevices call={call} /> : null}
    </div>
  );
}

/**
 * Which microphone calls send and which speaker they play through: folded under the dial pad's
 * buttons, the call, or a call ringing (a headset picked before answering), open or not as the
 * user left it. A call in progress moves to a new microphone at once. Until the browser may use
 * the microphone it names no device: one button asks. A remembered device that is gone is said
 * outside the fold, since calls then use the default.
 */
function AudioDevices({ call }: { call: ActiveCall | null }) {
  const devices = useDevices();
  const [open, setOpen] = useState(devicesOpen);
  const { missing } = devices;
  return (
    <>
      {missing.microphone ? (
        <p class="notice device-missing" role="status">
          The microphone you chose ({missing.microphone}) is not connected: calls use the default microphone.
        </p>
      ) : null}
      {missing.speaker && devices.speakerSupported ? (
        <p class="notice device-missing" role="status">
          The speaker you chose ({missing.speaker}) is not connected: calls play through the default speaker.
        </p>
      ) : null}
      <details
        class="devices"
        open={open}
        onToggle={(e) => {
          devicesOpen = (e.currentTarget as HTMLDetailsElement).open;
          setOpen(devicesOpen);
        }}
      >
        <summary>Audio devices</summary>
        {devices.problem ? <Alert>{devices.problem}</Alert> : null}
        {devices.listed && !devices.labelled ? (
          <>
            <p class="hint">The browser names its devices once the portal may use the microphone.</p>
            <button type="button" class="secondary" onClick={() => void allowMicrophone()}>
              Allow microphone to list devices
            </button>
          </>
        ) : null}
        <div class="field">
          <label for="phone-microphone">Microphone</label>
          <select
            id="phone-microphone"
            value={devices.microphone}
            onChange={(e) => void chooseMicrophone((e.target as HTMLSelectElement).value)}
          >
            <option value="">Default</option>
            {devices.microphones.map((d) => (
              <option key={d.id} value={d.id}>
                {d.label}
              </option>
            ))}
          </select>
          {call?.microphone ? (
            <p class="hint call-microphone" data-label={call.microphone}>
              This call: {call.microphone}
            </p>
          ) : null}
        </div>
        <div class="field">
          {devices.speakerSupported ? (
            <>
              <label for="phone-speaker">Speaker</label>
              <select
                id="phone-speaker"
                value={devices.speaker}
                onChange={(e) => void chooseSpeaker((e.target as HTMLSelectElement).value)}
              >
                <option value="">Default</option>
                {devices.speakers.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.label}
                  </option>
                ))}
              </select>
            </>
          ) : (
            <p class="hint">Speaker selection is not supported by this browser.</p>
          )}
        </div>
      </details>
    </>
  );
}

const who = callParty;

function IncomingCall({ call }: { call: ActiveCall }) {
  return (
    <section class="call incoming" aria-labelledby="call-title">
      <h2 id="call-title">Incoming call</h2>
      <p class="call-party">{who(call)}</p>
      <div class="call-actions">
        <button type="button" class="answer" onClick={() => void answer()}>
          Answer
        </button>
        <button type="button" class="danger decline" onClick={() => void hangUp()}>
          Decline
        </button>
      </div>
    </section>
  );
}

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const mm = String(Math.floor(s / 60)).padStart(2, "0");
  return `${mm}:${String(s % 60).padStart(2, "0")}`;
}

/** The clock and the RTP received by the call in focus, once a second: what the call screens show. */
function useCallClock(): { now: number; packets: number | null } {
  const [now, setNow] = useState(Date.now());
  const [packets, setPackets] = useState<number | null>(null);
  useEffect(() => {
    const timer = setInterval(() => {
      setNow(Date.now());
      void callStats().then((s) => setPackets(s?.packetsReceived ?? null));
    }, 1000);
    return () => clearInterval(timer);
  }, []);
  return { now, packets };
}

function CallScreen({ call }: { call: ActiveCall }) {
  const { now, packets } = useCallClock();
  const [keypad, setKeypad] = useState(false);
  /** The number picker open: for a blind transfer, or to consult first (attended transfer). */
  const [picking, setPicking] = useState<"transfer" | "consult" | null>(null);
  const status =
    call.phase === "active"
      ? call.held
        ? "On hold"
        : "Connected"
      : call.phase === "ringing"
        ? "Ringing…"
        : "Calling…";
  return (
    <section class={`call ${call.phase}`} aria-labelledby="call-title" data-phase={call.phase}>
      <h2 id="call-title">{status}</h2>
      <p class="call-party">{who(call)}</p>
      {call.answeredAt ? (
        <p class="call-duration">
          <span class="sr-only">Duration </span>
          <time>{duration(now - call.answeredAt)}</time>
        </p>
      ) : null}
      {call.phase === "active" ? (
        <p class="row-meta audio-flow" data-packets={packets ?? 0}>
          {packets ? "Audio is flowing" : "Waiting for audio…"}
        </p>
      ) : null}
      {call.audioBlocked ? (
        <button type="button" class="primary" onClick={resumeAudio}>
          Tap to hear the call
        </button>
      ) : null}
      {call.phase === "active" ? (
        <div class="call-controls">
          <button type="button" class="secondary" aria-pressed={call.muted} onClick={() => setMuted(!call.muted)}>
            {call.muted ? "Unmute" : "Mute"}
          </button>
          <button
            type="button"
            class="secondary"
            aria-pressed={call.held}
            disabled={call.holdBusy}
            onClick={() => void setHeld(!call.held)}
          >
            {call.holdBusy ? "…" : call.held ? "Resume" : "Hold"}
          </button>
          <button
            type="button"
            class="secondary"
            aria-expanded={keypad}
            onClick={() => {
              setKeypad(!keypad);
              setPicking(null);
            }}
          >
            Keypad
          </button>
          <button
            type="button"
            class="secondary"
            aria-expanded={picking === "transfer"}
            disabled={call.transfer?.status === "trying"}
            onClick={() => {
              setPicking(picking === "transfer" ? null : "transfer");
              setKeypad(false);
            }}
          >
            Transfer
          </button>
          <button
            type="button"
            class="secondary"
            aria-expanded={picking === "consult"}
            disabled={call.transfer?.status === "trying" || call.holdBusy}
            onClick={() => {
              setPicking(picking === "consult" ? null : "consult");
              setKeypad(false);
            }}
          >
            Consult
          </button>
        </div>
      ) : null}
      {call.note ? (
        <p class="notice call-note" role="status">
          {call.note}
        </p>
      ) : null}
      {call.transfer ? <TransferStatus transfer={call.transfer} /> : null}
      {picking && call.phase === "active" && !call.transfer ? (
        <TargetPicker call={call} mode={picking} onCancel={() => setPicking(null)} />
      ) : null}
      {keypad && call.phase === "active" ? (
        <>
          <output class="keys-sent" aria-label="Keys sent" data-status={call.lastKeyStatus ?? ""}>
            {call.keys || " "}
          </output>
          <Keys onKey={(k) => void sendKey(k)} label="Send key" />
        </>
      ) : null}
      <div class="call-actions">
        <button type="button" class="danger hangup" onClick={() => void hangUp()}>
          Hang up
        </button>
      </div>
    </section>
  );
}

/**
 * Where the transfer stands, from the media node's NOTIFYs; a failed one leaves the call (and the
 * consultation, `both`) as it was.
 */
function TransferStatus({ transfer: t, both = false }: { transfer: CallTransfer; both?: boolean }) {
  if (t.status === "failed")
    return (
      <div class="transfer-status failed" role="alert" data-status={t.status}>
        <p>
          Transfer failed: {t.detail || "no answer"}.{" "}
          {both ? "You still have both calls." : "You are still in the call."}
        </p>
        <button type="button" class="secondary" onClick={dismissTransfer}>
          {both ? "Back to the calls" : "Back to the call"}
        </button>
      </div>
    );
  return (
    <div class={`transfer-status ${t.status}`} role="status" data-status={t.status}>
      <p>{t.status === "done" ? `Transferred to ${t.target}` : `Transferring to ${t.target}…`}</p>
      {t.detail && t.status === "trying" ? <p class="row-meta">{t.detail}</p> : null}
    </div>
  );
}

/** The words of the number picker: a blind transfer, or the call placed to consult first. */
const PICKER = {
  transfer: {
    title: "Transfer",
    label: "Transfer to",
    submit: "Transfer now",
    pick: "Transfer",
    pickLabel: "Transfer to",
    list: "Transfer to someone in the directory",
  },
  consult: {
    title: "Consult before transferring",
    label: "Consult",
    submit: "Call to consult",
    pick: "Consult",
    pickLabel: "Consult",
    list: "Consult someone in the directory",
  },
} as const;

/**
 * Picks who the call goes to (transfer) or who to consult first (the call waits on hold): typed,
 * tapped on the pad, or from the PBX's directory.
 */
function TargetPicker({
  call,
  mode,
  onCancel,
}: {
  call: ActiveCall;
  mode: "transfer" | "consult";
  onCancel: () => void;
}) {
  const [number, setNumber] = useState("");
  const words = PICKER[mode];
  // Everyone on the PBX but the party of this call.
  const directory = (phoneState().settings?.directory ?? []).filter((entry) => entry.number !== call.remote);
  const go = (to: string, name: string | null = null) => {
    if (!to) return;
    if (mode === "transfer") void transfer(to);
    else {
      onCancel();
      void consult(to, name);
    }
  };
  return (
    <section class="transfer" aria-labelledby="transfer-title" data-mode={mode}>
      <h3 id="transfer-title">
        {words.title} {who(call)}
      </h3>
      {mode === "consult" ? (
        <p class="row-meta">{who(call)} waits on hold while you talk; then complete the transfer, or go back.</p>
      ) : null}
      <form
        class="dialer"
        onSubmit={(e) => {
          e.preventDefault();
          go(number);
        }}
      >
        <NumberEntry
          id="transfer-number"
          label={words.label}
          number={number}
          onChange={setNumber}
          deleteLabel={`Delete last ${mode} digit`}
          padLabel={`${words.title} dial pad`}
        />
        <div class="call-actions">
          <button type="submit" class="answer" disabled={!number}>
            {words.submit}
          </button>
          <button type="button" class="secondary" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
      {directory.length ? (
        <ul class="list call-log directory" aria-label={words.list}>
          {directory.map((entry) => (
            <li key={`${entry.kind}-${entry.number}`}>
              <div>
                <span class="row-title">
                  {entry.number} {entry.name}
                </span>
                <span class="row-meta">{KIND_LABEL[entry.kind]}</span>
              </div>
              <button
                type="button"
                class="secondary"
                aria-label={`${words.pickLabel} ${entry.name} (${entry.number})`}
                onClick={() => go(entry.number, entry.name)}
              >
                {words.pick}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

/** How a call stands, in a word: what the call screens' headings and the consultation's lines say. */
function callStatus(call: ActiveCall): string {
  if (call.phase === "active") return call.holdBusy ? "…" : call.held ? "On hold" : "Connected";
  return call.phase === "ringing" ? "Ringing…" : "Calling…";
}

/**
 * Two calls: the call waiting on hold and the consultation placed meanwhile. The user talks in
 * one (Mute and Keypad act on it, its audio is heard), may Swap to the other, Complete transfer
 * (the node joins the two far ends and both calls end here) or Cancel (the consultation hangs up,
 * the call resumes). A failed transfer leaves both calls as they were and says why.
 */
function ConsultScreen({ call, consultation }: { call: ActiveCall; consultation: ActiveCall }) {
  const { now, packets } = useCallClock();
  const [keypad, setKeypad] = useState(false);
  const focus = consultation.held ? call : consultation;
  const other = focus === call ? consultation : call;
  const answered = consultation.phase === "active";
  const transferring = call.transfer?.status === "trying";
  const busy = call.holdBusy || consultation.holdBusy;
  return (
    <section class="call consult" aria-labelledby="call-title" data-phase={consultation.phase}>
      <h2 id="call-title">Consultation</h2>
      <ul class="lines" aria-label="Your calls">
        {(
          [
            ["call", call, "Waiting to be transferred"],
            ["consultation", consultation, "Consulting"],
          ] as const
        ).map(([line, c, role]) => (
          <li
            key={line}
            class={`line${c === focus ? " focus" : ""}`}
            data-line={line}
            data-phase={c.phase}
            data-held={String(c.held)}
          >
            <span class="row-meta">{role}</span>
            <span class="line-party">{who(c)}</span>
            <span class="line-status">
              {callStatus(c)}
              {c.answeredAt ? (
                <>
                  {" · "}
                  <time>{duration(now - c.answeredAt)}</time>
                </>
              ) : null}
            </span>
          </li>
        ))}
      </ul>
      {focus.phase === "active" ? (
        <p class="row-meta audio-flow" data-packets={packets ?? 0} data-line={focus === call ? "call" : "consultation"}>
          {packets ? `Talking with ${who(focus)}: audio is flowing` : "Waiting for audio…"}
        </p>
      ) : null}
      {focus.audioBlocked ? (
        <button type="button" class="primary" onClick={resumeAudio}>
          Tap to hear the call
        </button>
      ) : null}
      {call.note ? (
        <p class="notice call-note" role="status">
          {call.note}
        </p>
      ) : null}
      <div class="call-controls">
        <button
          type="button"
          class="secondary"
          aria-pressed={focus.muted}
          disabled={focus.phase !== "active"}
          onClick={() => setMuted(!focus.muted)}
        >
          {focus.muted ? "Unmute" : "Mute"}
        </button>
        <button
          type="button"
          class="secondary"
          aria-expanded={keypad}
          disabled={focus.phase !== "active"}
          onClick={() => setKeypad(!keypad)}
        >
          Keypad
        </button>
        <button
          type="button"
          class="secondary swap"
          disabled={!answered || busy || transferring}
          onClick={() => void swapCalls()}
        >
          {busy ? "…" : `Swap to ${who(other)}`}
        </button>
      </div>
      {call.transfer ? <TransferStatus transfer={call.transfer} both /> : null}
      {keypad && focus.phase === "active" ? (
        <>
          <output class="keys-sent" aria-label="Keys sent" data-status={focus.lastKeyStatus ?? ""}>
            {focus.keys || " "}
          </output>
          <Keys onKey={(k) => void sendKey(k)} label="Send key" />
        </>
      ) : null}
      <p class="row-meta">
        Complete transfer connects {who(call)} with {who(consultation)} and ends both your calls.
      </p>
      <div class="call-actions">
        <button
          type="button"
          class="answer complete-transfer"
          disabled={!answered || transferring || busy}
          onClick={() => void completeTransfer()}
        >
          Complete transfer
        </button>
        <button
          type="button"
          class="danger cancel-consultation"
          disabled={transferring}
          onClick={() => void cancelConsultation()}
        >
          Cancel
        </button>
      </div>
    </section>
  );
}

/** A number typed, pasted (cleaned) or keyed on the pad, with a delete key: dialling and transfer alike. */
function NumberEntry(props: {
  id: string;
  label: string;
  number: string;
  onChange: (number: string) => void;
  deleteLabel: string;
  padLabel: string;
}) {
  const { id, label, number, onChange } = props;
  return (
    <>
      <div class="field">
        <label for={id}>{label}</label>
        <div class="dial-row">
          <input
            id={id}
            type="tel"
            inputMode="tel"
            autoComplete="off"
            value={number}
            onInput={(e) => onChange(cleanNumber((e.target as HTMLInputElement).value))}
          />
          <button
            type="button"
            class="secondary"
            aria-label={props.deleteLabel}
            disabled={!number}
            onClick={() => onChange(number.slice(0, -1))}
          >
            ⌫
          </button>
        </div>
      </div>
      <Keys onKey={(k) => onChange(number + k)} label={props.padLabel} />
    </>
  );
}

function Keys({ onKey, label }: { onKey: (key: string) => void; label: string }) {
  return (
    <fieldset class="keypad">
      <legend class="sr-only">{label}</legend>
      {KEYS.map(([key, letters]) => (
        <button type="button" key={key} class="key" aria-label={key} onClick={() => onKey(key)}>
          <span class="key-digit">{key}</span>
          <span class="key-letters" aria-hidden="true">
            {letters}
          </span>
        </button>
      ))}
    </fieldset>
  );
}

function DialPad({ phone }: { phone: PhoneState }) {
  const [number, setNumber] = useState(() => sessionStorage.getItem("edgepbx.phone.number") ?? "");
  const [history, setHistory] = useState<CallLogEntry[]>([]);
  useEffect(() => {
    const load = () => void store.calls().then(setHistory);
    load();
    addEventListener("edgepbx:call-logged", load);
    return () => removeEventListener("edgepbx:call-logged", load);
  }, []);
  const update = (value: string) => {
    setNumber(value);
    sessionStorage.setItem("edgepbx.phone.number", value);
  };
  const ready = phone.registration === "registered";
  /** The box's messages (message-waiting NOTIFYs): new ones are shown, saved ones small, none nothing. */
  const mwi = phone.messagesWaiting;
  const call = (to: string) => {
    if (!ready || !to) return;
    update("");
    void dial(to);
  };
  return (
    <>
      {phone.lastEnded ? (
        <p class="notice last-call" role="status">
          {phone.lastEnded}
        </p>
      ) : null}
      <form
        class="dialer"
        onSubmit={(e) => {
          e.preventDefault();
          call(number);
        }}
      >
        <NumberEntry
          id="dial-number"
          label="Number"
          number={number}
          onChange={update}
          deleteLabel="Delete last digit"
          padLabel="Dial pad"
        />
        <button type="submit" class="answer call-button" disabled={!ready || !number}>
          Call
        </button>
        <button
          type="button"
          class="secondary voicemail-button"
          disabled={!ready}
          onClick={() => void dial(VOICEMAIL, "Voicemail")}
        >
          <span>Voicemail</span>
          {mwi && mwi.new > 0 ? (
            <span class="mwi" data-new={mwi.new}>
              {newVoicemailsText(mwi.new)}
            </span>
          ) : null}
          {mwi && mwi.old > 0 ? <small class="mwi-saved">{mwi.old} saved</small> : null}
        </button>
        {!ready ? <p class="hint">Calls can be made once the phone shows Ready.</p> : null}
      </form>
      {typeof Notification !== "undefined" && Notification.permission === "default" ? (
        <button type="button" class="link" onClick={() => void Notification.requestPermission()}>
          Notify me of incoming calls while the portal is in the background
        </button>
      ) : null}
      <AudioDevices call={null} />
      {phone.settings?.directory.length ? (
        <section aria-labelledby="directory-title">
          <h2 id="directory-title">Directory</h2>
          <ul class="list call-log directory">
            {phone.settings.directory.map((entry) => (
              <li key={`${entry.kind}-${entry.number}`}>
                <div>
                  <span class="row-title">
                    {entry.number} {entry.name}
                  </span>
                  <span class="row-meta">{KIND_LABEL[entry.kind]}</span>
                </div>
                <button
                  type="button"
                  class="secondary"
                  aria-label={`Call ${entry.name} (${entry.number})`}
                  disabled={!ready}
                  onClick={() => call(entry.number)}
                >
                  Call
                </button>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section aria-labelledby="recent-title">
        <h2 id="recent-title">Recent calls</h2>
        {history.length === 0 ? <p class="row-meta">No calls yet.</p> : null}
        <ul class="list call-log">
          {history.slice(0, 20).map((entry) => (
            <li key={entry.seq}>
              <div>
                <span class="row-title">
                  {entry.direction === "incoming" ? "↙" : "↗"}{" "}
                  {entry.name ? `${entry.name} (${entry.number})` : entry.number}
                </span>
                <span class="row-meta">
                  {new Date(entry.startedAt).toLocaleString()} ·{" "}
                  {entry.answered
                    ? duration(entry.seconds * 1000)
                    : entry.direction === "incoming"
                      ? "missed"
                      : "not answered"}
                </span>
              </div>
              <button
                type="button"
                class="secondary"
                aria-label={`Call ${entry.number} again`}
                disabled={!ready}
                onClick={() => call(entry.number)}
              >
                Call
              </button>
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}
