import type { JSX } from "preact";
import type { PbxConfig } from "../../../shared/config/schema.ts";
import { PbxFrame, usePbx } from "../lib/pbx.tsx";
import { href } from "../lib/router.ts";

/** The PBX homepage: its tiles, and "View PBX Changes" when there is something to apply. */

const ICONS: Record<string, JSX.Element> = {
  routes: <path d="M4 12h10m0 0-4-4m4 4-4 4M14 6h6v12h-6" />,
  users: (
    <>
      <circle cx="9" cy="8" r="3.2" />
      <path d="M3 20c0-3.5 2.7-6 6-6s6 2.5 6 6M16 5.5a3 3 0 0 1 0 5.6M18 14c2 .8 3 2.8 3 6" />
    </>
  ),
  virtual: <path d="M5 4h14v16H5zM9 8h6M9 12h6M9 16h3" />,
  blacklist: (
    <>
      <circle cx="12" cy="12" r="8" />
      <path d="M6.5 6.5l11 11" />
    </>
  ),
  holidays: <path d="M4 6h16v14H4zM4 10h16M8 3v5M16 3v5" />,
  addons: <path d="M12 4v16M4 12h16" />,
  ringGroups: (
    <>
      <circle cx="12" cy="12" r="2.5" />
      <path d="M7.5 7.5a6.4 6.4 0 0 0 0 9M16.5 7.5a6.4 6.4 0 0 1 0 9M4.6 4.6a10.5 10.5 0 0 0 0 14.8M19.4 4.6a10.5 10.5 0 0 1 0 14.8" />
    </>
  ),
  conference: (
    <>
      <circle cx="12" cy="7" r="2.6" />
      <circle cx="5.5" cy="14" r="2.2" />
      <circle cx="18.5" cy="14" r="2.2" />
      <path d="M7.5 20c.8-2.6 2.5-4 4.5-4s3.7 1.4 4.5 4" />
    </>
  ),
  announcements: <path d="M4 10v4h3l6 4V6l-6 4zM16.5 9a4 4 0 0 1 0 6M19 6.5a7.5 7.5 0 0 1 0 11" />,
  forward: <path d="M4 17c0-5 3.5-8 9-8h5m0 0-4-4m4 4-4 4" />,
  settings: (
    <>
      <circle cx="12" cy="12" r="3" />
      <path d="M12 3v3M12 18v3M3 12h3M18 12h3M5.6 5.6l2.1 2.1M16.3 16.3l2.1 2.1M5.6 18.4l2.1-2.1M16.3 7.7l2.1-2.1" />
    </>
  ),
  changes: <path d="M12 7v5l3 3M20 12a8 8 0 1 1-2.3-5.7M20 4v4h-4" />,
};

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function Tile({ to, label, icon, note }: { to: string; label: string; icon: string; note?: string }) {
  return (
    <li>
      <a class="tile" href={href(to)}>
        <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
          {ICONS[icon]}
        </svg>
        <span class="tile-label">{label}</span>
        {note ? <span class="tile-note">{note}</span> : null}
      </a>
    </li>
  );
}

/** The homepage's tiles: where each goes (under the PBX), its name, icon and a word on what is there. */
function tiles(config: PbxConfig): { path: string; label: string; icon: string; note: string }[] {
  return [
    {
      path: "routes",
      label: "Call Routing",
      icon: "routes",
      note: count(config.callRoutes.length, "number", "numbers"),
    },
    {
      path: "extensions",
      label: "Offices & Users",
      icon: "users",
      note: count(config.extensions.length, "extension", "extensions"),
    },
    {
      path: "virtual-extensions",
      label: "Virtual Extensions",
      icon: "virtual",
      note: count(config.virtualExtensions.length, "speed dial", "speed dials"),
    },
    {
      path: "blacklist",
      label: "Blacklist",
      icon: "blacklist",
      note: count(config.blacklist.length, "number", "numbers"),
    },
    {
      path: "holidays",
      label: "Holidays",
      icon: "holidays",
      note: count(config.holidays.length, "condition", "conditions"),
    },
    {
      path: "ring-groups",
      label: "Ring Groups",
      icon: "ringGroups",
      note: count(config.ringGroups.length, "ring group", "ring groups"),
    },
    {
      path: "conference-rooms",
      label: "Conference Rooms",
      icon: "conference",
      note: count(config.conferenceRooms.length, "room", "rooms"),
    },
    {
      path: "announcements",
      label: "Announcements",
      icon: "announcements",
      note: count(config.announcements.length, "announcement", "announcements"),
    },
    { path: "forward-all", label: "Call Forward All", icon: "forward", note: "Forward a number's calls now" },
    { path: "addons", label: "Addons", icon: "addons", note: "Configure Addons · Call Recordings · Virtual FAX" },
    { path: "settings", label: "Settings", icon: "settings", note: `Timezone ${config.settings.timezone}` },
    { path: "history", label: "Change History", icon: "changes", note: "Applied versions" },
  ];
}

export function PbxHome({ params }: { params: Record<string, string> }) {
  const state = usePbx(params.pbx ?? "");
  return (
    <PbxFrame state={state} title={state.data?.summary.pbx.name ?? "PBX"}>
      {({ id, summary, config }) => (
        <>
          <p class="meta">
            SIP domain <code>{summary.sipDomain}</code> · {summary.channels} channels ·{" "}
            {summary.appliedVersion ? `version ${summary.appliedVersion} live` : "not applied yet"}
          </p>
          <ul class="tiles">
            {tiles(config).map((t) => (
              <Tile key={t.path} to={`/pbx/${id}/${t.path}`} label={t.label} icon={t.icon} note={t.note} />
            ))}
          </ul>
        </>
      )}
    </PbxFrame>
  );
}
