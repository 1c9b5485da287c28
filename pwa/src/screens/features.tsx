import { useEffect, useState } from "preact/hooks";
import type { FinalActivity } from "../../../shared/config/activity.ts";
import type { Announcement, ConferenceRoom, RingGroup } from "../../../shared/config/schema.ts";
import type { ConferenceParticipant } from "../../../shared/protocol/node-hub.ts";
import { api } from "../lib/api.ts";
import { ActivityFields, describeActivity, numberOrText, orNull } from "../lib/entity.tsx";
import { CheckList, SelectField, TextField, useForm } from "../lib/forms.tsx";
import { href } from "../lib/router.ts";
import { type Editing, EditScreen, EntityForm, ListScreen, RowList } from "../lib/screens.tsx";

/** Ring Groups, Conference Rooms and Announcements: what calls can be sent to besides an extension. */

type Params = { params: Record<string, string> };

// ---- Ring Groups ----

const STRATEGIES = [
  { value: "ringAll", label: "Ring all: every member at once" },
  { value: "hunt", label: "Hunt: one member after another" },
];

export function RingGroups({ params }: Params) {
  return (
    <ListScreen params={params} title="Ring Groups" add={{ label: "Add Ring Group", path: "ring-groups/new" }}>
      {({ id, config }) => (
        <>
          <p>A number that rings several extensions. Call routes and virtual extensions can send calls to it.</p>
          <RowList
            empty="No ring groups yet."
            rows={config.ringGroups.map((g) => ({
              key: g.id,
              to: `/pbx/${id}/ring-groups/${g.id}`,
              title: `${g.number} ${g.name}`,
              meta: `${g.strategy === "hunt" ? "hunt" : "ring all"} · ${g.members.join(", ")} · ${g.ringSeconds} s, then ${describeActivity(g.noAnswer, config)} · view/edit`,
            }))}
          />
        </>
      )}
    </ListScreen>
  );
}

export function RingGroupEdit({ params }: Params) {
  return (
    <EditScreen<RingGroup>
      params={params}
      collection="ring-groups"
      list={{ label: "Ring Groups", path: "ring-groups" }}
      addTitle="Add Ring Group"
      title={(g) => `Ring Group ${g?.number ?? ""} ${g?.name ?? ""}`}
    >
      {(editing) => <RingGroupForm editing={editing} />}
    </EditScreen>
  );
}

function RingGroupForm({ editing }: { editing: Editing<RingGroup> }) {
  const { pbx, existing } = editing;
  const config = editing.data.config;
  const form = useForm(
    () => ({
      number: existing?.number ?? "",
      name: existing?.name ?? "",
      strategy: existing?.strategy ?? "ringAll",
      members: existing?.members ?? [],
      ringSeconds: String(existing?.ringSeconds ?? 30),
      noAnswer: (existing?.noAnswer ?? { type: "hangup" }) as FinalActivity,
    }),
    `rg.${pbx}.${existing?.id ?? "new"}`,
  );
  const v = form.values;
  // Members are extension numbers; one that no longer exists stays listed so it can be unticked.
  const members = [
    ...config.extensions.map((e) => ({ value: e.number, label: `${e.number} ${e.name}` })),
    ...v.members
      .filter((m) => !config.extensions.some((e) => e.number === m))
      .map((m) => ({ value: m, label: `${m} (no such extension)` })),
  ];
  return (
    <EntityForm
      form={form}
      editing={editing}
      collection="ring-groups"
      body={() => ({ ...v, number: v.number.trim(), ringSeconds: numberOrText(v.ringSeconds) })}
      label={() => `ring group ${v.number} ${v.name}`}
      saved={() => `Ring group ${v.number} ${v.name} saved. Your changes are ready to apply.`}
      remove={
        existing && {
          confirm: `Delete ring group ${existing.number} ${existing.name}?`,
          label: `ring group ${existing.number}`,
          done: `Ring group ${existing.number} deleted. Your changes are ready to apply.`,
        }
      }
    >
      <TextField
        form={form}
        path="number"
        label="Ring Group Number"
        inputMode="numeric"
        required
        hint="2 to 6 digits, dialled like an extension."
      />
      <TextField form={form} path="name" label="Name" required />
      <SelectField form={form} path="strategy" label="Strategy" options={STRATEGIES} />
      <fieldset>
        <legend>Members</legend>
        {members.length === 0 ? (
          <p class="hint">
            There are no extensions yet. <a href={href(`/pbx/${pbx}/extensions/new`)}>Add Extension</a>
          </p>
        ) : null}
        <CheckList form={form} path="members" options={members} />
      </fieldset>
      <TextField
        form={form}
        path="ringSeconds"
        label="Ring seconds"
        type="number"
        inputMode="numeric"
        hint={
          v.strategy === "hunt"
            ? "How long each member rings before the next (5 to 300)."
            : "How long the members ring (5 to 300)."
        }
      />
      <ActivityFields form={form} path="noAnswer" config={config} kind="final" legend="When nobody answers" />
    </EntityForm>
  );
}

// ---- Conference Rooms ----

export function ConferenceRooms({ params }: Params) {
  return (
    <ListScreen
      params={params}
      title="Conference Rooms"
      add={{ label: "Add Conference Room", path: "conference-rooms/new" }}
    >
      {({ id, config }) => (
        <>
          <p>
            Reach a room through a call route (Activity Type: Conference (Basic)) or a virtual extension. Each caller
            from outside counts toward your PBX's channels.
          </p>
          <RoomList pbxId={id} rooms={config.conferenceRooms} />
        </>
      )}
    </ListScreen>
  );
}

/** How often the list asks who is in the rooms while it is open. */
const LIVE_REFRESH_MS = 5000;

/** The rooms, each with who is in it now (as the media nodes report it; refreshed while shown). */
function RoomList({ pbxId, rooms }: { pbxId: string; rooms: ConferenceRoom[] }) {
  const [live, setLive] = useState<Record<string, ConferenceParticipant[]> | null>(null);
  useEffect(() => {
    let stopped = false;
    const refresh = () =>
      api<{ rooms: Record<string, ConferenceParticipant[]> }>("GET", `/pbxs/${pbxId}/conference-rooms/live`).then(
        (result) => !stopped && setLive(result.data.rooms),
        () => !stopped && setLive(null),
      );
    void refresh();
    const timer = setInterval(refresh, LIVE_REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [pbxId]);
  const inRoom = (room: ConferenceRoom) => {
    if (live === null) return "";
    const people = live[room.id] ?? [];
    if (people.length === 0) return " · nobody in the room";
    return ` · in the room now: ${people.map((p) => `${p.caller} (since ${time(p.joinedAt)})`).join(", ")}`;
  };
  return (
    <RowList
      empty="No conference rooms yet."
      rows={rooms.map((r) => ({
        key: r.id,
        to: `/pbx/${pbxId}/conference-rooms/${r.id}`,
        title: `Room ${r.number} ${r.name}`,
        meta: `${r.pin ? "PIN" : "no PIN"} · up to ${r.maxParticipants} people${inRoom(r)} · view/edit`,
      }))}
    />
  );
}

function time(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function ConferenceRoomEdit({ params }: Params) {
  return (
    <EditScreen<ConferenceRoom>
      params={params}
      collection="conference-rooms"
      list={{ label: "Conference Rooms", path: "conference-rooms" }}
      addTitle="Add Conference Room"
      title={(r) => `Conference Room ${r?.number ?? ""} ${r?.name ?? ""}`}
    >
      {(editing) => <ConferenceRoomForm editing={editing} />}
    </EditScreen>
  );
}

function ConferenceRoomForm({ editing }: { editing: Editing<ConferenceRoom> }) {
  const { pbx, existing } = editing;
  const form = useForm(
    () => ({
      number: existing?.number ?? "",
      name: existing?.name ?? "",
      pin: existing?.pin ?? "",
      maxParticipants: String(existing?.maxParticipants ?? 50),
    }),
    `conf.${pbx}.${existing?.id ?? "new"}`,
  );
  const v = form.values;
  return (
    <EntityForm
      form={form}
      editing={editing}
      collection="conference-rooms"
      body={() => ({
        number: v.number.trim(),
        name: v.name,
        pin: orNull(v.pin),
        maxParticipants: numberOrText(v.maxParticipants),
      })}
      label={() => `conference room ${v.number} ${v.name}`}
      saved={() => `Conference room ${v.number} ${v.name} saved. Your changes are ready to apply.`}
      remove={
        existing && {
          confirm: `Delete conference room ${existing.number} ${existing.name}?`,
          label: `conference room ${existing.number}`,
          done: `Conference room ${existing.number} deleted. Your changes are ready to apply.`,
        }
      }
    >
      <TextField
        form={form}
        path="number"
        label="Room Number"
        inputMode="numeric"
        required
        hint="2 to 6 digits, dialled like an extension."
      />
      <TextField form={form} path="name" label="Name" required />
      <TextField
        form={form}
        path="pin"
        label="PIN"
        inputMode="numeric"
        autoComplete="off"
        hint="3 to 10 digits callers enter to join. Leave blank for a room without a PIN."
      />
      <TextField
        form={form}
        path="maxParticipants"
        label="Max participants"
        type="number"
        inputMode="numeric"
        hint="2 to 500."
      />
    </EntityForm>
  );
}

// ---- Announcements ----

export function Announcements({ params }: Params) {
  return (
    <ListScreen params={params} title="Announcements" add={{ label: "Add Announcement", path: "announcements/new" }}>
      {({ id, config }) => (
        <>
          <p>A message played to callers (spoken by text-to-speech), then the call goes on.</p>
          <RowList
            empty="No announcements yet."
            rows={config.announcements.map((a) => ({
              key: a.id,
              to: `/pbx/${id}/announcements/${a.id}`,
              title: a.name,
              meta: `then ${describeActivity(a.next, config)} · view/edit`,
            }))}
          />
        </>
      )}
    </ListScreen>
  );
}

export function AnnouncementEdit({ params }: Params) {
  return (
    <EditScreen<Announcement>
      params={params}
      collection="announcements"
      list={{ label: "Announcements", path: "announcements" }}
      addTitle="Add Announcement"
      title={(a) => `Announcement: ${a?.name ?? ""}`}
    >
      {(editing) => <AnnouncementForm editing={editing} />}
    </EditScreen>
  );
}

function AnnouncementForm({ editing }: { editing: Editing<Announcement> }) {
  const { pbx, existing } = editing;
  const config = editing.data.config;
  const form = useForm(
    () => ({
      name: existing?.name ?? "",
      message: existing?.message ?? "",
      next: (existing?.next ?? { type: "hangup" }) as FinalActivity,
    }),
    `ann.${pbx}.${existing?.id ?? "new"}`,
  );
  const v = form.values;
  return (
    <EntityForm
      form={form}
      editing={editing}
      collection="announcements"
      body={() => ({ ...v })}
      label={() => `announcement ${v.name}`}
      saved={() => `Announcement ${v.name} saved. Your changes are ready to apply.`}
      remove={
        existing && {
          confirm: `Delete the announcement ${existing.name}?`,
          label: `announcement ${existing.name}`,
          done: `Announcement ${existing.name} deleted. Your changes are ready to apply.`,
        }
      }
    >
      <TextField form={form} path="name" label="Name" required hint="For your reference, e.g. After hours." />
      <TextField
        form={form}
        path="message"
        label="Message"
        multiline
        required
        hint="What callers hear, spoken by text-to-speech (up to 2000 characters), unless you upload a recording."
      />
      <ActivityFields form={form} path="next" config={config} kind="final" legend="After the announcement" />
      {existing ? (
        <RecordingField pbxId={pbx} announcement={existing} />
      ) : (
        <p class="hint">Save the announcement first; then you can upload a recording for it.</p>
      )}
    </EntityForm>
  );
}

/** The announcement's own recording (WAV or MP3): uploaded, listened to, removed; played once applied. */
function RecordingField({ pbxId, announcement }: { pbxId: string; announcement: Announcement }) {
  const [audio, setAudio] = useState(announcement.audio);
  const [status, setStatus] = useState<{ error: boolean; text: string } | null>(null);
  const path = `/pbxs/${pbxId}/announcements/${announcement.id}/audio`;
  const upload = async (file: File | undefined) => {
    if (!file) return;
    setStatus({ error: false, text: `Uploading ${file.name}…` });
    try {
      const type = file.type || (file.name.toLowerCase().endsWith(".mp3") ? "audio/mpeg" : "audio/wav");
      const result = await api<Announcement>(
        "PUT",
        `${path}?name=${encodeURIComponent(file.name)}`,
        new Blob([file], { type }),
      );
      setAudio(result.data.audio);
      setStatus({ error: false, text: "Recording uploaded. Your changes are ready to apply." });
    } catch (error) {
      setStatus({ error: true, text: (error as Error).message });
    }
  };
  const remove = async () => {
    try {
      await api("DELETE", path);
      setAudio(null);
      setStatus({
        error: false,
        text: "Recording removed: the message will be spoken. Your changes are ready to apply.",
      });
    } catch (error) {
      setStatus({ error: true, text: (error as Error).message });
    }
  };
  return (
    <fieldset class="recording">
      <legend>Recording</legend>
      {audio ? (
        <>
          <p>
            {audio.fileName} · {Math.ceil(audio.bytes / 1024)} KB · uploaded{" "}
            {new Date(audio.uploadedAt).toLocaleString()}
          </p>
          {/* The query changes with the file, so the browser never plays an older one from its cache. */}
          {/* biome-ignore lint/a11y/useMediaCaption: the admin's own upload; its words are the Message field above */}
          <audio
            controls
            preload="none"
            src={`/api${path}?v=${audio.sha256.slice(0, 12)}`}
            aria-label="Listen to the recording"
          />
          <p>
            <button type="button" class="secondary" onClick={() => void remove()}>
              Remove recording
            </button>
          </p>
        </>
      ) : (
        <p>No recording: callers hear the message spoken.</p>
      )}
      <label class="field">
        <span>{audio ? "Replace with another file" : "Upload a recording"} (WAV or MP3, up to 10 MB)</span>
        <input
          type="file"
          accept="audio/wav,audio/x-wav,audio/mpeg,.wav,.mp3"
          onChange={(event) => void upload((event.currentTarget as HTMLInputElement).files?.[0])}
        />
      </label>
      {status && (
        <p role={status.error ? "alert" : "status"} class={status.error ? "error" : "ok"}>
          {status.text}
        </p>
      )}
    </fieldset>
  );
}
