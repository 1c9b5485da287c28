import { useEffect, useState } from "preact/hooks";
import type {
  ContactDetails,
  Notifications,
  Role,
  ServiceAction,
  SoftphoneLink,
  UserStatus,
} from "../../../shared/accounts/schema.ts";
import { ApiError, api, setCsrfToken, setUnauthenticatedHandler } from "./api.ts";

/** A portal user as the API returns it (the account schema's fields plus ids and access). */
export interface PortalUser extends ContactDetails {
  id: string;
  accountId: string;
  email: string;
  role: Role;
  status: UserStatus;
  notifications: Notifications;
  services: string[];
  actions: ServiceAction[];
  /** The extension the Phone screen registers as; null without one. */
  softphone?: SoftphoneLink | null;
  createdAt: string;
  updatedAt: string;
}

export interface SessionState {
  loaded: boolean;
  user: PortalUser | null;
  /** Set when the edge ended the session while the user was working. */
  expired: boolean;
  /** The edge could not be reached when the session was checked. */
  offline: boolean;
}

let state: SessionState = { loaded: false, user: null, expired: false, offline: false };
const listeners = new Set<(s: SessionState) => void>();

function update(next: Partial<SessionState>): void {
  state = { ...state, ...next };
  for (const listener of listeners) listener(state);
}

export function useSession(): SessionState {
  const [value, setValue] = useState(state);
  useEffect(() => {
    listeners.add(setValue);
    setValue(state);
    return () => {
      listeners.delete(setValue);
    };
  }, []);
  return value;
}

export function currentUser(): PortalUser | null {
  return state.user;
}

const USER_KEY = "edgepbx.user";

/** Asks the edge who is logged in (the cookie is HttpOnly); offline, the last known user is kept. */
export async function loadSession(): Promise<void> {
  setUnauthenticatedHandler(() => {
    if (state.user) update({ user: null, expired: true });
  });
  try {
    const { data } = await api<{ user: PortalUser; csrfToken?: string }>("GET", "/me", undefined, { quiet401: true });
    remember(data.user);
    update({ loaded: true, user: data.user, offline: false });
  } catch (error) {
    if (error instanceof ApiError && error.offline) {
      const saved = localStorage.getItem(USER_KEY);
      update({ loaded: true, user: saved ? (JSON.parse(saved) as PortalUser) : null, offline: true });
    } else update({ loaded: true, user: null });
  }
}

export function signedIn(user: PortalUser): void {
  remember(user);
  update({ user, expired: false, offline: false });
}

export function userChanged(user: PortalUser): void {
  remember(user);
  update({ user });
}

export async function logOut(): Promise<void> {
  // The softphone (when loaded) unregisters and forgets its credentials.
  dispatchEvent(new CustomEvent("edgepbx:logout"));
  await api("POST", "/auth/logout").catch(() => {});
  setCsrfToken(null);
  localStorage.removeItem(USER_KEY);
  sessionStorage.clear();
  update({ user: null, expired: false });
}

function remember(user: PortalUser): void {
  localStorage.setItem(USER_KEY, JSON.stringify(user));
}
