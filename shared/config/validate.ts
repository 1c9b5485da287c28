import type { Activity } from "./activity.ts";
import { parseCertificatePem } from "./certificate.ts";
import { COLLECTION_KEYS, FEATURE_CODES, type PbxConfig } from "./schema.ts";

export interface ConfigIssue {
  /** Path into the PbxConfig, e.g. ["callRoutes", 0, "activity", "conferenceRoomId"]. */
  path: (string | number)[];
  message: string;
}

/**
 * The rules that span entities: what zod's per-field schema cannot see.
 * Pure and synchronous so the portal can run it before saving and the edge before storing.
 */
export function validatePbxConfig(config: PbxConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: ConfigIssue["path"], message: string) => issues.push({ path, message });

  checkUniqueIds(config, add);
  checkDialPlanNumbers(config, add);

  const extensionNumbers = new Set(config.extensions.map((e) => e.number));
  const ids = {
    ringGroup: new Set(config.ringGroups.map((r) => r.id)),
    conference: new Set(config.conferenceRooms.map((r) => r.id)),
    announcement: new Set(config.announcements.map((a) => a.id)),
    holiday: new Set(config.holidays.map((h) => h.id)),
  };
  const voicemailBoxes = new Set(config.extensions.filter((e) => e.voicemail.enabled).map((e) => e.number));
  const checkActivity = (activity: Activity, path: ConfigIssue["path"]) => {
    switch (activity.type) {
      case "extension":
        if (!extensionNumbers.has(activity.extension))
          add([...path, "extension"], `extension ${activity.extension} does not exist`);
        break;
      case "voicemail":
        if (!voicemailBoxes.has(activity.extension))
          add([...path, "extension"], `extension ${activity.extension} has no voicemail enabled`);
        break;
      case "ringGroup":
        if (!ids.ringGroup.has(activity.ringGroupId)) add([...path, "ringGroupId"], "ring group does not exist");
        break;
      case "conference":
        if (!ids.conference.has(activity.conferenceRoomId))
          add([...path, "conferenceRoomId"], "conference room does not exist");
        break;
      case "announcement":
        if (!ids.announcement.has(activity.announcementId))
          add([...path, "announcementId"], "announcement does not exist");
        break;
      default:
        break;
    }
  };

  const recording = config.addons.callRecording;
  config.callRoutes.forEach((route, i) => {
    checkActivity(route.activity, ["callRoutes", i, "activity"]);
    if (route.holidayId !== null && !ids.holiday.has(route.holidayId))
      add(["callRoutes", i, "holidayId"], "holiday condition does not exist");
    if (route.recordInbound && !recording.enabled)
      add(["callRoutes", i, "recordInbound"], "enable the Call Recording Plugin under Addons first");
    if (route.virtualFaxEmail !== null && !config.addons.virtualFax.enabled)
      add(["callRoutes", i, "virtualFaxEmail"], "enable the Virtual FAX Plugin under Addons first");
    if (route.passcode.enabled && route.passcode.passcode === null)
      add(["callRoutes", i, "passcode", "passcode"], "enter a passcode or untick Caller Passcode");
    if (route.forwardAll.enabled && route.forwardAll.dialCode === null)
      add(["callRoutes", i, "forwardAll", "dialCode"], "forward all needs an allocated dial code");
  });
  config.virtualExtensions.forEach((v, i) => {
    checkActivity(v.activity, ["virtualExtensions", i, "activity"]);
  });
  config.ringGroups.forEach((group, i) => {
    group.members.forEach((member, m) => {
      if (!extensionNumbers.has(member)) add(["ringGroups", i, "members", m], `extension ${member} does not exist`);
    });
    checkActivity(group.noAnswer, ["ringGroups", i, "noAnswer"]);
  });
  config.announcements.forEach((a, i) => {
    checkActivity(a.next, ["announcements", i, "next"]);
  });
  config.holidays.forEach((h, i) => {
    checkActivity(h.action, ["holidays", i, "action"]);
    const seen = new Set<string>();
    h.dates.forEach((date, d) => {
      if (seen.has(date)) add(["holidays", i, "dates", d], `${date} is listed twice`);
      seen.add(date);
    });
  });
  config.extensions.forEach((e, i) => {
    if (e.recordOutbound && !recording.enabled)
      add(["extensions", i, "recordOutbound"], "enable the Call Recording Plugin under Addons first");
    if (e.voicemail.enabled && e.voicemail.pinHash === null)
      add(["extensions", i, "voicemail", "pin"], "set a voicemail PIN to enable voicemail");
    if (e.voicemail.sendToEmail && e.voicemail.email === null)
      add(["extensions", i, "voicemail", "email"], "enter the email address voicemail is sent to");
    if (e.voicemail.deleteAfterEmail && !e.voicemail.sendToEmail)
      add(["extensions", i, "voicemail", "deleteAfterEmail"], "messages can only be deleted after they are emailed");
  });

  if (recording.enabled && !recording.disclaimerAccepted)
    add(["addons", "callRecording", "disclaimerAccepted"], "agree to the disclaimer to enable call recording");
  if (config.addons.virtualFax.enabled && !config.addons.virtualFax.disclaimerAccepted)
    add(["addons", "virtualFax", "disclaimerAccepted"], "agree to the disclaimer to enable Virtual FAX");
  const encryption = config.addons.recordingEncryption;
  if (encryption.enabled) {
    if (!recording.enabled) add(["addons", "recordingEncryption", "enabled"], "enable the Call Recording Plugin first");
    if (encryption.publicKeyPem === null)
      add(["addons", "recordingEncryption", "publicKeyPem"], "paste your public key certificate");
  }
  if (encryption.publicKeyPem !== null) {
    try {
      parseCertificatePem(encryption.publicKeyPem);
    } catch (error) {
      add(["addons", "recordingEncryption", "publicKeyPem"], (error as Error).message);
    }
  }
  return issues;
}

type Add = (path: ConfigIssue["path"], message: string) => void;

function checkUniqueIds(config: PbxConfig, add: Add): void {
  const seen = new Set<string>();
  for (const key of COLLECTION_KEYS) {
    config[key].forEach((item, i) => {
      if (seen.has(item.id)) add([key, i, "id"], `id ${item.id} is used twice`);
      seen.add(item.id);
    });
  }
}

/** Every dialable number means one thing: extensions, speed dials, groups, rooms, feature codes. */
function checkDialPlanNumbers(config: PbxConfig, add: Add): void {
  const owners = new Map<string, string>([[FEATURE_CODES.voicemail, "the voicemail feature code"]]);
  const claim = (number: string, owner: string, path: ConfigIssue["path"]) => {
    const existing = owners.get(number);
    if (existing !== undefined) add(path, `${number} is already used by ${existing}`);
    else owners.set(number, owner);
  };
  config.extensions.forEach((e, i) => {
    claim(e.number, `extension ${e.name}`, ["extensions", i, "number"]);
  });
  config.virtualExtensions.forEach((v, i) => {
    claim(v.number, `virtual extension ${v.name}`, ["virtualExtensions", i, "number"]);
  });
  config.ringGroups.forEach((r, i) => {
    claim(r.number, `ring group ${r.name}`, ["ringGroups", i, "number"]);
  });
  config.conferenceRooms.forEach((c, i) => {
    claim(c.number, `conference room ${c.name}`, ["conferenceRooms", i, "number"]);
  });
  config.callRoutes.forEach((r, i) => {
    if (r.forwardAll.dialCode !== null)
      claim(r.forwardAll.dialCode, `forward all on ${r.did}`, ["callRoutes", i, "forwardAll", "dialCode"]);
  });
  const dids = new Set<string>();
  config.callRoutes.forEach((r, i) => {
    if (dids.has(r.did)) add(["callRoutes", i, "did"], `${r.did} already has a call route`);
    dids.add(r.did);
  });
  const usernames = new Set<string>();
  config.extensions.forEach((e, i) => {
    if (usernames.has(e.sip.username)) add(["extensions", i, "sipUsername"], `${e.sip.username} is already used`);
    usernames.add(e.sip.username);
  });
  const blocked = new Set<string>();
  config.blacklist.forEach((b, i) => {
    if (blocked.has(b.number)) add(["blacklist", i, "number"], `${b.number} is already blacklisted`);
    blocked.add(b.number);
  });
  const senders = new Set<string>();
  config.faxSenders.forEach((s, i) => {
    const email = s.email.toLowerCase();
    if (senders.has(email)) add(["faxSenders", i, "email"], `${s.email} is already an allowed sender`);
    senders.add(email);
  });
}

/** The next free forward-all dial code: *401, *402, … */
export function allocateDialCode(config: PbxConfig): string {
  const used = new Set(config.callRoutes.map((r) => r.forwardAll.dialCode));
  for (let n = 401; n <= 9999; n++) {
    const code = `*${n}`;
    if (!used.has(code)) return code;
  }
  throw new Error("no free dial code");
}
