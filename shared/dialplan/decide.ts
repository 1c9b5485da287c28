import type { Activity } from "../config/activity.ts";
import { type CallRoute, type Extension, FEATURE_CODES, type PbxConfig } from "../config/schema.ts";
import { normaliseNumber, sameNumber } from "./numbers.ts";
import { localDate } from "./time.ts";
import type { CallDecision, CallRequest, InboundContext, RejectStatus, RuntimeState } from "./types.ts";

/**
 * The dial plan: where a call goes. Pure — no I/O, no clock (`now` is an input) — so the
 * media node, the PWA's "where would this call go?" and the tests share one implementation.
 *
 * Inbound (carrier → DID), in order:
 *   1. the DID must have a call route (else 404);
 *   2. a blacklisted caller is declined with 603 and never rings anything;
 *   3. the channel count: with every channel busy the call is refused (503);
 *   4. Call Forward All: a destination set for the route (and forwarding enabled) → external;
 *   5. the holiday condition, on the calendar date in the ROUTE's time zone → the holiday's action;
 *   6. the caller passcode (carried in `inbound.passcode` for the media node to collect);
 *   7. the route's activity.
 * Forward-all and holiday actions are reached before, and so without, the caller passcode.
 *
 * Internal (extension → dialled string), in order: feature codes (777 voicemail; a route's
 * forward-all dial code alone clears, code + number sets), extension numbers, ring groups,
 * conference rooms, virtual extensions (speed dials), then an external number (optional +,
 * 3–16 digits) subject to the channel count, else 404.
 *
 * Channels are checked for the legs a call opens now: the inbound leg, and a trunk leg when the
 * decision itself is `external`. External steps reached later (after an announcement, or on a
 * ring group's no answer) are not checked here: the media node checks `hasFreeChannel` when it
 * gets there, since other calls will have come and gone by then.
 */
export function decideCall(config: PbxConfig, call: CallRequest, state: RuntimeState, now: Date): CallDecision {
  return call.kind === "internal" ? decideInternal(config, call, state) : decideInbound(config, call, state, now);
}

/** A number the trunk can dial: optional leading +, 3 to 16 digits (PhoneNumber in the schema). */
const EXTERNAL_NUMBER = /^\+?[0-9]{3,16}$/;

/**
 * SIP responses and why:
 * - 603 Decline for a blacklisted caller: a definitive "does not wish to take the call" that
 *   carriers must not retry elsewhere (RFC 3261 §21.6.2), so nothing rings.
 * - 404 Not Found for a number or DID the dial plan does not know, and for dangling references.
 * - 503 for "all channels busy" rather than 486 Busy Here: 486 says the callee is busy, which the
 *   carrier may act on as user-busy (its own busy forwarding, Q.850 cause 17); running out of
 *   channels is the PBX's capacity, the case RFC 3398 maps to/from Q.850 cause 34 "no
 *   circuit/channel available" ↔ 503. The phrase says so: "Channel limit reached".
 * - 484 Address Incomplete for forward-all digits that are not a phone number.
 * - 403 Forbidden for a caller that is not an extension here, a forward-all code whose route has
 *   forwarding turned off, or a passcode-protected route with no passcode configured (fail closed).
 */
const PHRASES: Record<RejectStatus, string> = {
  403: "Forbidden",
  404: "Not Found",
  484: "Address Incomplete",
  503: "Channel limit reached",
  603: "Decline",
};

function reject(status: RejectStatus, reason: string): CallDecision {
  return { type: "reject", status, phrase: PHRASES[status], reason };
}

/** Whether `legs` more trunk legs fit within the PBX's channel count. */
export function hasFreeChannel(config: PbxConfig, state: RuntimeState, legs = 1): boolean {
  return state.activeExternalCalls + legs <= config.settings.channels;
}

/** How an external step of this call presents itself. */
interface Leg {
  callerId: string | null;
  record: boolean;
  divertedFrom: string | null;
}

// ---------------------------------------------------------------- inbound

function decideInbound(
  config: PbxConfig,
  call: Extract<CallRequest, { kind: "inbound" }>,
  state: RuntimeState,
  now: Date,
): CallDecision {
  const route = findRoute(config, call.did);
  if (route === undefined) return reject(404, `No call route on this PBX for the number ${call.did}.`);

  const today = localDate(now, route.timezone);
  const context: InboundContext = {
    routeId: route.id,
    did: route.did,
    alertName: route.alertName,
    timezone: route.timezone,
    localDate: today,
    passcode: null,
    record: route.recordInbound && config.addons.callRecording.enabled,
    faxEmail: config.addons.virtualFax.enabled ? route.virtualFaxEmail : null,
  };
  const label = `Call to ${route.did} ("${route.alertName}")${call.callerId === null ? " from a withheld number" : ` from ${call.callerId}`}`;
  const finish = (decision: CallDecision, steps: string[], passcode: string | null = null): CallDecision => ({
    ...decision,
    reason: `${label}: ${[...steps, lowerFirst(decision.reason)].join("; ")}`,
    inbound: { ...context, passcode },
  });

  if (call.callerId !== null) {
    const entry = config.blacklist.find((b) => sameNumber(b.number, call.callerId ?? ""));
    if (entry !== undefined) {
      const note = entry.note === null ? "" : ` (${entry.note})`;
      return finish(reject(603, "declined without ringing anyone."), [
        `the caller matches blacklist entry ${entry.number}${note}`,
      ]);
    }
  }

  if (!hasFreeChannel(config, state)) {
    return finish(reject(503, "refused."), [
      `channel limit reached (all ${config.settings.channels} channels are in use)`,
    ]);
  }

  const leg: Leg = { callerId: call.callerId, record: context.record, divertedFrom: route.did };
  // Two trunk legs when an inbound call goes back out: the inbound one and the outbound one.
  const checkSecondLeg = (decision: CallDecision): CallDecision =>
    decision.type === "external" && !hasFreeChannel(config, state, 2)
      ? reject(
          503,
          `refused: sending it on to ${decision.number} needs a second channel and all ${config.settings.channels} would be in use.`,
        )
      : decision;

  const forwardTo = route.forwardAll.enabled ? (state.forwardAll[route.id] ?? null) : null;
  if (forwardTo !== null && forwardTo !== "") {
    const decision = external(forwardTo, leg);
    return finish(checkSecondLeg(decision), [
      `Call Forward All is set to ${forwardTo} (dial code ${route.forwardAll.dialCode})`,
    ]);
  }

  const steps: string[] = [];
  if (route.holidayId !== null) {
    const holiday = config.holidays.find((h) => h.id === route.holidayId);
    if (holiday === undefined)
      return finish(reject(404, "refused."), [`its holiday condition ${route.holidayId} does not exist`]);
    if (holiday.dates.includes(today)) {
      return finish(checkSecondLeg(resolveActivity(config, holiday.action, leg)), [
        `${today} in ${route.timezone} is a day of holiday "${holiday.name}" (closed the whole day and night), so its action applies`,
      ]);
    }
    steps.push(`${today} in ${route.timezone} is not a day of holiday "${holiday.name}"`);
  }

  let passcode: string | null = null;
  if (route.passcode.enabled) {
    if (route.passcode.passcode === null)
      return finish(reject(403, "refused."), [...steps, "Caller Passcode is ticked but no passcode is set"]);
    passcode = route.passcode.passcode;
    steps.push("the caller must enter the route's passcode first");
  }
  return finish(checkSecondLeg(resolveActivity(config, route.activity, leg)), steps, passcode);
}

/** The route for a DID: an exact digits match first, else the first `sameNumber` match. */
function findRoute(config: PbxConfig, did: string): CallRoute | undefined {
  const digits = normaliseNumber(did);
  if (digits === "") return undefined;
  return (
    config.callRoutes.find((r) => normaliseNumber(r.did) === digits) ??
    config.callRoutes.find((r) => sameNumber(r.did, did))
  );
}

// ---------------------------------------------------------------- internal

function decideInternal(
  config: PbxConfig,
  call: Extract<CallRequest, { kind: "internal" }>,
  state: RuntimeState,
): CallDecision {
  const from = config.extensions.find((e) => e.number === call.from);
  if (from === undefined) return reject(403, `${call.from} is not an extension of this PBX.`);
  const dialled = cleanDialled(call.dialled);
  const label = `Extension ${from.number} (${from.name}) dialled ${dialled === "" ? "nothing" : dialled}`;
  const finish = (decision: CallDecision): CallDecision => ({
    ...decision,
    reason: `${label}: ${lowerFirst(decision.reason)}`,
  });

  if (dialled === FEATURE_CODES.voicemail) {
    if (!from.voicemail.enabled)
      return finish(
        reject(404, `${dialled} is voicemail access, but extension ${from.number} has no voicemail enabled.`),
      );
    return finish({
      type: "voicemailAccess",
      box: from.number,
      pinTerminator: "#",
      reason: `Voicemail access for box ${from.number}: enter the PIN followed by #.`,
    });
  }

  if (dialled.startsWith("*")) return finish(forwardAllCode(config, dialled, state));

  const leg: Leg = {
    callerId: from.callerId,
    record: from.recordOutbound && config.addons.callRecording.enabled,
    divertedFrom: null,
  };
  const checkChannel = (decision: CallDecision): CallDecision =>
    decision.type === "external" && !hasFreeChannel(config, state)
      ? reject(503, `Refused: channel limit reached (all ${config.settings.channels} channels are in use).`)
      : decision;

  const extension = config.extensions.find((e) => e.number === dialled);
  if (extension !== undefined) return finish(ringExtension(extension));
  const group = config.ringGroups.find((g) => g.number === dialled);
  if (group !== undefined) return finish(resolveActivity(config, { type: "ringGroup", ringGroupId: group.id }, leg));
  const room = config.conferenceRooms.find((r) => r.number === dialled);
  if (room !== undefined)
    return finish(resolveActivity(config, { type: "conference", conferenceRoomId: room.id }, leg));
  const speedDial = config.virtualExtensions.find((v) => v.number === dialled);
  if (speedDial !== undefined) {
    const decision = checkChannel(resolveActivity(config, speedDial.activity, leg));
    return finish({ ...decision, reason: `Speed dial "${speedDial.name}": ${lowerFirst(decision.reason)}` });
  }
  if (EXTERNAL_NUMBER.test(dialled)) return finish(checkChannel(external(dialled, leg)));
  return finish(reject(404, "No extension, ring group, conference room, speed dial or phone number matches."));
}

/**
 * What a phone sends, tidied: whitespace and the visual separators - ( ) . removed, and one
 * trailing # (the "send" key on many handsets) dropped.
 */
function cleanDialled(dialled: string): string {
  return dialled.replace(/[\s\-().]/g, "").replace(/#$/, "");
}

/**
 * A dialled string starting with "*": a route's forward-all dial code, alone (clear) or followed
 * by the destination (set). With codes such as *40 and *401 both allocated, the longest code
 * that prefixes what was dialled wins.
 */
function forwardAllCode(config: PbxConfig, dialled: string, state: RuntimeState): CallDecision {
  let route: CallRoute | undefined;
  for (const r of config.callRoutes) {
    const code = r.forwardAll.dialCode;
    if (code !== null && dialled.startsWith(code) && code.length > (route?.forwardAll.dialCode?.length ?? 0)) route = r;
  }
  const code = route?.forwardAll.dialCode;
  if (route === undefined || code === undefined || code === null)
    return reject(404, "No feature code or forward-all dial code matches.");
  const where = `Call Forward All on ${route.did} ("${route.alertName}")`;
  if (!route.forwardAll.enabled)
    return reject(403, `${code} is the dial code of ${where}, but forwarding is turned off on that route.`);
  const destination = dialled.slice(code.length);
  if (destination === "") {
    const previous = state.forwardAll[route.id] ?? null;
    return {
      type: "clearForwardAll",
      routeId: route.id,
      did: route.did,
      dialCode: code,
      previous,
      reason: `Turn off ${where}${previous === null ? " (it was not set)" : `, which was forwarding to ${previous}`}.`,
    };
  }
  if (!EXTERNAL_NUMBER.test(destination))
    return reject(484, `${destination} after ${code} is not a phone number to forward ${route.did} to.`);
  return {
    type: "setForwardAll",
    routeId: route.id,
    did: route.did,
    dialCode: code,
    destination,
    reason: `Turn on ${where}: forward its calls to ${destination}.`,
  };
}

// ---------------------------------------------------------------- activities

/**
 * An activity as a decision. Announcements continue to a FinalActivity, which cannot be an
 * announcement, so recursion is at most one level deep by construction; `depth` guards configs
 * that bypassed the schema. Missing references become a 404 with the reason.
 */
function resolveActivity(config: PbxConfig, activity: Activity, leg: Leg, depth = 0): CallDecision {
  switch (activity.type) {
    case "extension": {
      const extension = config.extensions.find((e) => e.number === activity.extension);
      if (extension === undefined) return reject(404, `Extension ${activity.extension} does not exist.`);
      return ringExtension(extension);
    }
    case "ringGroup": {
      const group = config.ringGroups.find((g) => g.id === activity.ringGroupId);
      if (group === undefined) return reject(404, `Ring group ${activity.ringGroupId} does not exist.`);
      const known = new Set(config.extensions.map((e) => e.number));
      const members = group.members.filter((m) => known.has(m));
      const missing = group.members.filter((m) => !known.has(m));
      const skipped = missing.length === 0 ? "" : ` (${missing.join(", ")} skipped: no such extension)`;
      if (members.length === 0)
        return reject(404, `Ring group "${group.name}" (${group.number}) has no existing members${skipped}.`);
      const noAnswer = resolveActivity(config, group.noAnswer, leg, depth + 1);
      const how =
        group.strategy === "ringAll"
          ? `ring ${members.join(", ")} together`
          : `ring ${members.join(", then ")} in turn`;
      return {
        type: "ringGroup",
        groupId: group.id,
        name: group.name,
        number: group.number,
        strategy: group.strategy,
        members,
        ringSeconds: group.ringSeconds,
        noAnswer,
        reason: `Ring group "${group.name}" (${group.number}): ${how} for ${group.ringSeconds} s${skipped}, without the members' voicemail; on no answer, ${lowerFirst(noAnswer.reason)}`,
      };
    }
    case "conference": {
      const room = config.conferenceRooms.find((r) => r.id === activity.conferenceRoomId);
      if (room === undefined) return reject(404, `Conference room ${activity.conferenceRoomId} does not exist.`);
      return {
        type: "conference",
        roomId: room.id,
        number: room.number,
        name: room.name,
        pin: room.pin,
        maxParticipants: room.maxParticipants,
        reason: `Join conference room "${room.name}" (${room.number})${room.pin === null ? " (no PIN)" : " after entering the room PIN"}.`,
      };
    }
    case "voicemail": {
      const box = config.extensions.find((e) => e.number === activity.extension);
      if (box === undefined || !box.voicemail.enabled)
        return reject(404, `Extension ${activity.extension} has no voicemail box.`);
      return {
        type: "voicemail",
        box: box.number,
        mode: "deposit",
        reason: `Leave a message in the voicemail box of extension ${box.number} (${box.name}).`,
      };
    }
    case "external":
      return external(activity.number, leg);
    case "hangup":
      return { type: "hangup", reason: "Hang up." };
    case "announcement": {
      const announcement = config.announcements.find((a) => a.id === activity.announcementId);
      if (announcement === undefined) return reject(404, `Announcement ${activity.announcementId} does not exist.`);
      if (depth > 0) return reject(404, `Announcement "${announcement.name}" cannot follow another step.`);
      const next = resolveActivity(config, announcement.next, leg, depth + 1);
      return {
        type: "announcement",
        announcementId: announcement.id,
        name: announcement.name,
        message: announcement.message,
        audio: announcement.audio?.sha256 ?? null,
        next,
        reason: `Play announcement "${announcement.name}", then ${lowerFirst(next.reason)}`,
      };
    }
  }
}

/** An extension reached directly: its voicemail answers on no answer when enabled. */
function ringExtension(extension: Extension): CallDecision {
  const box = extension.voicemail.enabled ? extension.number : null;
  return {
    type: "ringExtensions",
    extensions: [extension.number],
    voicemailBox: box,
    reason: `Ring extension ${extension.number} (${extension.name})${box === null ? "; no voicemail on no answer (not enabled)" : "; its voicemail on no answer"}.`,
  };
}

function external(number: string, leg: Leg): CallDecision {
  const presents =
    leg.callerId !== null
      ? `caller ID ${leg.callerId}`
      : leg.divertedFrom === null
        ? "the trunk's default caller ID"
        : "a withheld caller ID";
  const diverted = leg.divertedFrom === null ? "" : ` (diverted from ${leg.divertedFrom})`;
  return {
    type: "external",
    number,
    callerId: leg.callerId,
    record: leg.record,
    divertedFrom: leg.divertedFrom,
    reason: `Dial ${number} through the trunk presenting ${presents}${diverted}${leg.record ? ", recorded" : ""}.`,
  };
}

function lowerFirst(text: string): string {
  return text.length > 0 && /^[A-Z][a-z ]/.test(text) ? text[0]?.toLowerCase() + text.slice(1) : text;
}
