import { type ComponentType, render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { edgeReachable, onReachability } from "./lib/api.ts";
import { discardQueued, dismissReplay, startOutbox, useOutbox } from "./lib/outbox.ts";
import { href, match, navigate, useRoute } from "./lib/router.ts";
import { loadSession, logOut, useSession } from "./lib/session.ts";
import { newVoicemailsText } from "./phone/mwi.ts";
import { Login, Recover, Register, Reset } from "./screens/auth.tsx";

/**
 * The EdgePBX management portal. Login and recovery are in this first bundle; every other screen
 * is its own chunk, loaded when first opened (and precached by the service worker for offline).
 */

type Params = Record<string, string>;
type Screen = ComponentType<{ params: Params; query: URLSearchParams }>;

/** A screen loaded on first use. */
function lazy(load: () => Promise<Record<string, unknown>>, name: string): Screen {
  let loaded: Screen | null = null;
  return function Lazy(props) {
    const [Component, setComponent] = useState<Screen | null>(() => loaded);
    const [failed, setFailed] = useState(false);
    useEffect(() => {
      if (Component) return;
      load()
        .then((mod) => {
          loaded = mod[name] as Screen;
          setComponent(() => loaded);
        })
        .catch(() => setFailed(true));
    }, [Component]);
    if (failed) return <p role="alert">This screen could not be loaded. Check your connection and reload.</p>;
    return Component ? <Component {...props} /> : <p class="loading">Loading…</p>;
  };
}

const services = () => import("./screens/services.tsx");
const account = () => import("./screens/account.tsx");
const pbx = () => import("./screens/pbx.tsx");
const extensions = () => import("./screens/extensions.tsx");
const routes = () => import("./screens/routes.tsx");
const holidays = () => import("./screens/holidays.tsx");
const changes = () => import("./screens/changes.tsx");
const simple = () => import("./screens/simple.tsx");
const admin = () => import("./screens/users.tsx");
const addons = () => import("./screens/addons.tsx");
const features = () => import("./screens/features.tsx");
const settings = () => import("./screens/settings.tsx");
// The softphone and SIP.js: a chunk of their own, loaded when the Phone screen opens.
const phone = () => import("./screens/phone.tsx");

const ROUTES: [string, Screen][] = [
  ["/services", lazy(services, "MyServices")],
  ["/account", lazy(account, "MyAccount")],
  ["/phone", lazy(phone, "Phone")],
  ["/admin/users", lazy(admin, "PortalUsers")],
  ["/admin/users/:id", lazy(admin, "PortalUserEdit")],
  ["/pbx/:pbx", lazy(pbx, "PbxHome")],
  ["/pbx/:pbx/extensions", lazy(extensions, "OfficesAndUsers")],
  ["/pbx/:pbx/extensions/:id", lazy(extensions, "ExtensionEdit")],
  ["/pbx/:pbx/routes", lazy(routes, "CallRouting")],
  ["/pbx/:pbx/routes/:id", lazy(routes, "CallRouteEdit")],
  ["/pbx/:pbx/holidays", lazy(holidays, "Holidays")],
  ["/pbx/:pbx/holidays/:id", lazy(holidays, "HolidayEdit")],
  ["/pbx/:pbx/blacklist", lazy(simple, "Blacklist")],
  ["/pbx/:pbx/blacklist/:id", lazy(simple, "BlacklistEdit")],
  ["/pbx/:pbx/virtual-extensions", lazy(simple, "VirtualExtensions")],
  ["/pbx/:pbx/virtual-extensions/:id", lazy(simple, "VirtualExtensionEdit")],
  ["/pbx/:pbx/ring-groups", lazy(features, "RingGroups")],
  ["/pbx/:pbx/ring-groups/:id", lazy(features, "RingGroupEdit")],
  ["/pbx/:pbx/conference-rooms", lazy(features, "ConferenceRooms")],
  ["/pbx/:pbx/conference-rooms/:id", lazy(features, "ConferenceRoomEdit")],
  ["/pbx/:pbx/announcements", lazy(features, "Announcements")],
  ["/pbx/:pbx/announcements/:id", lazy(features, "AnnouncementEdit")],
  ["/pbx/:pbx/forward-all", lazy(settings, "ForwardAll")],
  ["/pbx/:pbx/settings", lazy(settings, "PbxSettings")],
  ["/pbx/:pbx/addons", lazy(addons, "AddonsMenu")],
  ["/pbx/:pbx/addons/configure", lazy(addons, "ConfigureAddons")],
  ["/pbx/:pbx/addons/recordings", lazy(addons, "CallRecordings")],
  ["/pbx/:pbx/fax-senders", lazy(addons, "VirtualFax")],
  ["/pbx/:pbx/fax-senders/:id", lazy(addons, "FaxSenderEdit")],
  ["/pbx/:pbx/changes", lazy(changes, "ViewChanges")],
  ["/pbx/:pbx/changes/details", lazy(changes, "ChangeDetails")],
  ["/pbx/:pbx/history", lazy(changes, "ChangeHistory")],
  ["/pbx/:pbx/history/:version", lazy(changes, "VersionDetails")],
];

const PUBLIC: [string, ComponentType<{ query: URLSearchParams }>][] = [
  ["/login", Login],
  ["/register", Register],
  ["/recover", Recover],
  ["/reset", Reset],
];

/** What the softphone chunk announces (edgepbx:phone): the header stays free of SIP.js. */
interface PhoneNews {
  registration: string;
  call: { phase: string } | null;
  /** The voicemail box's messages (message-waiting), null when unknown. */
  messagesWaiting: { new: number; old: number } | null;
}

/** The phone's state as the softphone chunk announces it. */
function usePhoneCall(): PhoneNews | null {
  const [value, setValue] = useState<PhoneNews | null>(null);
  useEffect(() => {
    const listener = (e: Event) => setValue((e as CustomEvent).detail);
    addEventListener("edgepbx:phone", listener);
    return () => removeEventListener("edgepbx:phone", listener);
  }, []);
  return value;
}

function Header({ admin, phone }: { admin: boolean; phone: boolean }) {
  const live = usePhoneCall();
  const ringing = live?.call?.phase === "incoming";
  const voicemails = live?.messagesWaiting?.new ?? 0;
  return (
    <header class="top">
      <a class="brand" href={href("/services")}>
        EdgePBX
      </a>
      <button
        type="button"
        class="link logout"
        onClick={async () => {
          await logOut();
          navigate("/login");
        }}
      >
        Log out
      </button>
      <nav aria-label="Portal">
        <a href={href("/services")}>My Services</a>
        {phone ? (
          <a href={href("/phone")} class={ringing ? "ringing" : undefined}>
            {ringing ? "Phone · ringing" : live?.call ? "Phone · in call" : "Phone"}
            {voicemails > 0 ? (
              <>
                <span class="mwi-count" aria-hidden="true">
                  {voicemails}
                </span>
                <span class="sr-only"> ({newVoicemailsText(voicemails)})</span>
              </>
            ) : null}
          </a>
        ) : null}
        {admin ? <a href={href("/admin/users")}>My Admin</a> : null}
        <a href={href("/account")}>My Account</a>
      </nav>
    </header>
  );
}

function OfflineBanner() {
  const [online, setOnline] = useState(navigator.onLine && edgeReachable());
  useEffect(() => {
    const update = () => setOnline(navigator.onLine && edgeReachable());
    addEventListener("online", update);
    addEventListener("offline", update);
    const stop = onReachability(update);
    update();
    return () => {
      removeEventListener("online", update);
      removeEventListener("offline", update);
      stop();
    };
  }, []);
  if (online) return null;
  return (
    <div class="offline" role="status">
      You are offline. PBXs you opened before show what was last seen, and changes you save are kept on this device and
      sent when you are back online. Applying changes and the change history need a connection.
    </div>
  );
}

const SCREEN_OF: Record<string, string> = {
  extensions: "extensions",
  "call-routes": "routes",
  holidays: "holidays",
  blacklist: "blacklist",
  "virtual-extensions": "virtual-extensions",
  "fax-senders": "fax-senders",
  "ring-groups": "ring-groups",
  "conference-rooms": "conference-rooms",
  announcements: "announcements",
};

/** A queued body as field/value lines, so a refused edit can be typed again from it. */
function flatten(value: unknown, prefix = ""): [string, string][] {
  if (value !== null && typeof value === "object" && !Array.isArray(value))
    return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  return [
    [
      prefix,
      Array.isArray(value)
        ? value.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ")
        : String(value),
    ],
  ];
}

/** Edits saved offline: waiting, sent, or refused because of a conflict. */
function Outbox() {
  const { items, lastReplay } = useOutbox();
  if (items.length === 0 && !lastReplay) return null;
  return (
    <section class="outbox" aria-labelledby="outbox-title" aria-live="polite">
      {items.length > 0 ? (
        <>
          <h2 id="outbox-title">Changes saved on this device ({items.length})</h2>
          <ul>
            {items.map((item) => (
              <li key={item.seq} class={`queued ${item.state}`}>
                <span class="row-title">{item.label}</span>{" "}
                <span class="row-meta">
                  {item.state === "queued"
                    ? "waiting for the network"
                    : item.state === "conflict"
                      ? "conflict"
                      : "refused"}
                </span>
                {item.problem ? <p class="field-error">{item.problem}</p> : null}
                {item.state !== "queued" && item.body !== undefined ? (
                  <details class="your-edit">
                    <summary>Your edit</summary>
                    <dl>
                      {flatten(item.body).map(([field, value]) => (
                        <div key={field}>
                          <dt>{field}</dt>
                          <dd>{value}</dd>
                        </div>
                      ))}
                    </dl>
                  </details>
                ) : null}
                <div class="row-actions">
                  {item.state !== "queued" && item.entityId ? (
                    <a
                      class="button secondary"
                      href={href(`/pbx/${item.pbx}/${SCREEN_OF[item.collection] ?? ""}/${item.entityId}`)}
                    >
                      Open
                    </a>
                  ) : null}
                  <button
                    type="button"
                    class="secondary"
                    onClick={() => item.seq !== undefined && discardQueued(item.seq)}
                  >
                    Discard
                  </button>
                </div>
              </li>
            ))}
          </ul>
        </>
      ) : lastReplay ? (
        <div class="notice">
          <h2 id="outbox-title">Back online</h2>
          <p>
            {lastReplay.sent === 1 ? "1 change saved offline was" : `${lastReplay.sent} changes saved offline were`}{" "}
            sent to the PBX.{" "}
            {lastReplay.pbxs.length === 1 ? (
              <a href={href(`/pbx/${lastReplay.pbxs[0]}/changes`)}>View PBX Changes</a>
            ) : null}
          </p>
          <button type="button" class="secondary" onClick={dismissReplay}>
            OK
          </button>
        </div>
      ) : null}
    </section>
  );
}

function App() {
  const session = useSession();
  const route = useRoute();
  useEffect(() => {
    void loadSession();
  }, []);
  // A user with an extension logs in once and gets the phone too: it registers in the background
  // (SIP.js loaded after the first screen), so calls ring on every screen.
  const softphone = Boolean(session.user?.softphone);
  useEffect(() => {
    if (softphone) void phone().then((m) => m.startPhoneInBackground());
  }, [softphone]);
  useEffect(() => {
    // Focus moves to the new screen's heading, so keyboard and screen-reader users follow along.
    const h1 = document.querySelector("main h1") as HTMLElement | null;
    if (h1) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }, [route.path]);
  if (!session.loaded) return <p class="loading">Loading the portal…</p>;

  for (const [pattern, Component] of PUBLIC) {
    if (match(pattern, route.path)) {
      if (session.user && pattern === "/login") {
        navigate(route.query.get("next") ?? "/services", true);
        return null;
      }
      return (
        <main id="main" class="narrow">
          <Component query={route.query} />
        </main>
      );
    }
  }
  if (!session.user) {
    const next = route.path === "/" ? "/services" : route.path;
    return (
      <main id="main" class="narrow">
        <Login query={new URLSearchParams({ next })} expired={session.expired} />
      </main>
    );
  }
  let screen = null;
  for (const [pattern, Component] of ROUTES) {
    const params = match(pattern, route.path);
    if (params) {
      screen = <Component params={params} query={route.query} />;
      break;
    }
  }
  if (!screen && route.path === "/") {
    navigate("/services", true);
    return null;
  }
  return (
    <>
      <button type="button" class="skip" onClick={() => document.getElementById("main")?.focus()}>
        Skip to content
      </button>
      <Header admin={session.user.role === "administrator"} phone={Boolean(session.user.softphone)} />
      <OfflineBanner />
      <main id="main" tabIndex={-1}>
        <Outbox />
        {screen ?? (
          <>
            <h1>Not found</h1>
            <p>
              There is no such page. <a href={href("/services")}>Go to My Services</a>
            </p>
          </>
        )}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
  startOutbox();
}

if ("serviceWorker" in navigator && location.protocol !== "file:") {
  addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  });
}
