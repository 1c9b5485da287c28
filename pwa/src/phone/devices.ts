/**
 * The softphone's audio devices: which microphone calls send and which speaker they (and the
 * ringtone) play through. The choice is remembered per browser (localStorage); a remembered device
 * that is not connected falls back to the browser's default, and the Phone screen says so. The
 * browser tells device names only once the page may use the microphone, so until then the list is
 * just "Default" and the screen offers to ask. Part of the phone chunk (imported by softphone.ts).
 */

export interface AudioDevice {
  /** The browser's deviceId for this origin. */
  id: string;
  label: string;
}

export interface DeviceState {
  /** False until the first listing (or where the browser has no mediaDevices). */
  listed: boolean;
  /** The browser told the devices' names: the page may use the microphone. */
  labelled: boolean;
  /** Real devices, the browser's "default" and "communications" aliases left out. */
  microphones: AudioDevice[];
  speakers: AudioDevice[];
  /** What calls use now ("": the browser's default): the remembered device, or the default when it is gone. */
  microphone: string;
  speaker: string;
  /** HTMLMediaElement.setSinkId exists (Chromium, Firefox 116+; not Safari on iOS). */
  speakerSupported: boolean;
  /** A remembered device that is not connected now, by kind: shown beside its select. */
  missing: { microphone: string | null; speaker: string | null };
  problem: string | null;
}

interface Remembered {
  microphone?: AudioDevice;
  speaker?: AudioDevice;
}

const KEY = "edgepbx.phone.devices";
/** Chromium lists these beside the real devices; the "Default" option stands for them. */
const ALIASES = new Set(["", "default", "communications"]);

const remembered = load();
let state: DeviceState = {
  listed: false,
  labelled: false,
  microphones: [],
  speakers: [],
  // Until the first listing, the remembered devices (asked for as a preference only).
  microphone: remembered.microphone?.id ?? "",
  speaker: remembered.speaker?.id ?? "",
  speakerSupported: typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype,
  missing: { microphone: null, speaker: null },
  problem: null,
};
const listeners = new Set<(s: DeviceState) => void>();
let watching = false;

function load(): Remembered {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "{}") as Remembered;
  } catch {
    return {};
  }
}

function save(): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(remembered));
  } catch {
    // Storage refused (private mode): the choice lasts until the page closes.
  }
}

function set(next: Partial<DeviceState>): void {
  state = { ...state, ...next };
  for (const listener of listeners) listener(state);
}

export function deviceState(): DeviceState {
  return state;
}

export function subscribeDevices(listener: (s: DeviceState) => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** What is in use for one kind: the remembered device when it is listed, else the default. */
function resolve(
  choice: AudioDevice | undefined,
  list: AudioDevice[],
  labelled: boolean,
): { id: string; missing: string | null } {
  if (!choice) return { id: "", missing: null };
  if (list.some((d) => d.id === choice.id)) return { id: choice.id, missing: null };
  // Without names the browser hides the ids too: the device may well be there.
  if (!labelled) return { id: choice.id, missing: null };
  return { id: "", missing: choice.label || "the device you chose" };
}

/** Lists the devices (again: on devicechange, after the microphone was allowed or used). */
export async function listDevices(): Promise<void> {
  const media = typeof navigator !== "undefined" ? navigator.mediaDevices : undefined;
  if (!media?.enumerateDevices) {
    set({ listed: true, problem: "This browser does not let the page choose audio devices." });
    return;
  }
  if (!watching) {
    watching = true;
    media.addEventListener("devicechange", () => void listDevices());
  }
  let all: MediaDeviceInfo[];
  try {
    all = await media.enumerateDevices();
  } catch (error) {
    set({ listed: true, problem: `The browser could not list audio devices: ${(error as Error).message}` });
    return;
  }
  const of = (kind: MediaDeviceKind) =>
    all
      .filter((d) => d.kind === kind && !ALIASES.has(d.deviceId))
      .map((d, i) => ({
        id: d.deviceId,
        label: d.label || `${kind === "audioinput" ? "Microphone" : "Speaker"} ${i + 1}`,
      }));
  const labelled = all.some((d) => d.kind === "audioinput" && d.label !== "");
  const microphones = of("audioinput");
  const speakers = of("audiooutput");
  const mic = resolve(remembered.microphone, microphones, labelled);
  const speaker = resolve(remembered.speaker, speakers, labelled);
  set({
    listed: true,
    labelled,
    microphones,
    speakers,
    microphone: mic.id,
    speaker: speaker.id,
    missing: { microphone: mic.missing, speaker: speaker.missing },
    problem: null,
  });
}

/** Asks for the microphone once (the browser's prompt), so that devices are listed by name. */
export async function allowMicrophone(): Promise<void> {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    for (const track of stream.getTracks()) track.stop();
  } catch (error) {
    set({ problem: `The browser did not allow the microphone (${(error as Error).name}): calls need it.` });
    return;
  }
  await listDevices();
}

function remember(kind: "microphone" | "speaker", id: string): void {
  const list = kind === "microphone" ? state.microphones : state.speakers;
  const device = list.find((d) => d.id === id);
  if (device) remembered[kind] = device;
  else delete remembered[kind];
  save();
  set({ [kind]: device ? id : "", missing: { ...state.missing, [kind]: null } });
}

/** Remembers the microphone ("" = the browser's default); softphone.ts moves a call in progress to it. */
export function rememberMicrophone(id: string): void {
  remember("microphone", id);
}

export function rememberSpeaker(id: string): void {
  remember("speaker", id);
}

/**
 * getUserMedia's audio for the next call: the chosen device exactly when it is listed, as a
 * preference when the browser has not told its devices yet (a stale id must not fail the call).
 */
export function microphoneConstraints(): MediaTrackConstraints | boolean {
  const id = state.microphone;
  if (!id) return true;
  return state.labelled ? { deviceId: { exact: id } } : { deviceId: { ideal: id } };
}

/** Plays `element` through the chosen speaker where the browser can; "" is the default output. */
export async function applySpeaker(element: HTMLMediaElement): Promise<void> {
  if (!state.speakerSupported || element.sinkId === state.speaker) return;
  await element.setSinkId(state.speaker).catch((error: Error) => {
    const problem = `The speaker could not be used (${error.name}); calls play through the default one.`;
    if (state.problem !== problem) set({ problem });
  });
}

/** The ringtone's AudioContext too (AudioContext.setSinkId: Chromium 110+). */
export function applySpeakerToContext(context: AudioContext): void {
  const withSink = context as AudioContext & { setSinkId?: (id: string) => Promise<void> };
  if (state.speaker && withSink.setSinkId) void withSink.setSinkId(state.speaker).catch(() => {});
}
