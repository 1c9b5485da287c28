import { describe, expect, it } from "vitest";
import { emptyConfig, PbxConfig } from "../config/schema.ts";
import { validatePbxConfig } from "../config/validate.ts";
import { decideCall, hasFreeChannel } from "./decide.ts";
import { normaliseNumber, sameNumber } from "./numbers.ts";
import { localDate } from "./time.ts";
import type { CallDecision, CallRequest, RuntimeState } from "./types.ts";

const sip = (username: string) => ({
  username,
  ha1Md5: "0".repeat(32),
  ha1Sha256: "0".repeat(64),
  passwordSetAt: "2026-12-01T00:00:00.000Z",
});
const voicemailOn = { enabled: true, pinHash: "sha256$salt$00" };

const route = (id: string, did: string, extra: Record<string, unknown>) => ({
  id,
  did,
  timezone: "Australia/Sydney",
  alertName: id.replace("rt_", ""),
  ...extra,
});

const base = {
  settings: { sipDomain: "d.pbx", channels: 2 },
  extensions: [
    {
      id: "ext_aaaaaa",
      number: "100",
      name: "Alice",
      callerId: "+61290000000",
      recordOutbound: true,
      sip: sip("100"),
      voicemail: voicemailOn,
    },
    { id: "ext_bbbbbb", number: "101", name: "Bob", sip: sip("101") },
    { id: "ext_cccccc", number: "102", name: "Carol", sip: sip("102"), voicemail: voicemailOn },
  ],
  ringGroups: [
    {
      id: "rg_sales1",
      name: "Sales",
      number: "600",
      strategy: "hunt",
      members: ["100", "101"],
      ringSeconds: 20,
      noAnswer: { type: "voicemail", extension: "102" },
    },
  ],
  conferenceRooms: [
    { id: "conf_board1", name: "Board", number: "800", pin: "4321" },
    { id: "conf_open01", name: "Open", number: "801" },
  ],
  announcements: [{ id: "ann_closed", name: "Closed", message: "We are closed today.", next: { type: "hangup" } }],
  holidays: [
    {
      id: "hol_xmas01",
      name: "Christmas",
      dates: ["2026-12-25", "2026-12-26"],
      action: { type: "announcement", announcementId: "ann_closed" },
    },
  ],
  callRoutes: [
    route("rt_main01", "+61290000000", {
      activity: { type: "ringGroup", ringGroupId: "rg_sales1" },
      holidayId: "hol_xmas01",
      recordInbound: true,
      forwardAll: { enabled: true, dialCode: "*401" },
    }),
    route("rt_conf01", "+61290000001", {
      passcode: { enabled: true, passcode: "9876" },
      activity: { type: "conference", conferenceRoomId: "conf_board1" },
    }),
    route("rt_direct", "+61290000002", {
      timezone: "UTC",
      holidayId: "hol_xmas01",
      activity: { type: "extension", extension: "100" },
      // Turned off after use: the allocated code stays with the route.
      forwardAll: { enabled: false, dialCode: "*402" },
      virtualFaxEmail: "fax@example.com",
    }),
    route("rt_out001", "+61290000003", { activity: { type: "external", number: "0400111222" } }),
  ],
  virtualExtensions: [
    { id: "vext_sales1", name: "Sales line", number: "900", activity: { type: "ringGroup", ringGroupId: "rg_sales1" } },
    {
      id: "vext_board1",
      name: "Board room",
      number: "901",
      activity: { type: "conference", conferenceRoomId: "conf_board1" },
    },
    { id: "vext_mobile", name: "Boss mobile", number: "902", activity: { type: "external", number: "0400999888" } },
    { id: "vext_vmail1", name: "Alice VM", number: "903", activity: { type: "voicemail", extension: "100" } },
  ],
  blacklist: [
    { id: "bl_aaaaaa", number: "0400123456", note: "nuisance" },
    { id: "bl_bbbbbb", number: "1234" },
  ],
  addons: {
    callRecording: { enabled: true, disclaimerAccepted: true, ftp: null },
    virtualFax: { enabled: true, disclaimerAccepted: true },
  },
};

function config(overrides: Record<string, unknown> = {}): PbxConfig {
  return PbxConfig.parse({ ...emptyConfig("d.pbx"), ...base, ...overrides });
}

const pbx = config();
const idle: RuntimeState = { forwardAll: {}, activeExternalCalls: 0 };
/** 2026-12-24 10:00 in Sydney (AEDT, UTC+11): an ordinary working day. */
const workday = new Date("2026-12-23T23:00:00Z");

const inbound = (did: string, callerId: string | null = "+61755501234"): CallRequest => ({
  kind: "inbound",
  did,
  callerId,
});
const dial = (from: string, dialled: string): CallRequest => ({ kind: "internal", from, dialled });

function decide(call: CallRequest, state: RuntimeState = idle, now = workday, c = pbx): CallDecision {
  const decision = decideCall(c, call, state, now);
  expectReasons(decision);
  return decision;
}

/** Every decision, nested ones included, explains itself. */
function expectReasons(decision: CallDecision): void {
  expect(decision.reason.length).toBeGreaterThan(5);
  if (decision.type === "announcement") expectReasons(decision.next);
  if (decision.type === "ringGroup") expectReasons(decision.noAnswer);
}

function expectType<T extends CallDecision["type"]>(
  decision: CallDecision,
  type: T,
): Extract<CallDecision, { type: T }> {
  expect(decision.type, decision.reason).toBe(type);
  return decision as Extract<CallDecision, { type: T }>;
}

describe("helpers", () => {
  it("the fixture is a valid configuration", () => {
    expect(validatePbxConfig(pbx)).toEqual([]);
  });

  it("normaliseNumber keeps digits only", () => {
    expect(normaliseNumber("+61 2-9000 (0000)")).toBe("61290000000");
    expect(normaliseNumber("0400.123.456")).toBe("0400123456");
    expect(normaliseNumber("anonymous")).toBe("");
  });

  it("sameNumber: equal digits, or a suffix of at least 8 digits after leading zeros", () => {
    expect(sameNumber("+61 2 9000 0000", "61290000000")).toBe(true);
    expect(sameNumber("+61 2 9000 0000", "02 9000 0000")).toBe(true);
    expect(sameNumber("0011 61 2 9000 0000", "(02) 9000-0000")).toBe(true);
    expect(sameNumber("+61400123456", "0400123456")).toBe(true);
    expect(sameNumber("1234", "1234")).toBe(true);
    expect(sameNumber("1234", "51234")).toBe(false);
    expect(sameNumber("12345678", "+9912345678")).toBe(true);
    expect(sameNumber("1234567", "91234567")).toBe(false);
    expect(sameNumber("+61290000000", "+61290000001")).toBe(false);
    expect(sameNumber("", "")).toBe(false);
    expect(sameNumber("anonymous", "anonymous")).toBe(false);
  });

  it("localDate is the calendar date in the time zone, around midnight", () => {
    // Sydney is UTC+11 in December: its 25th runs from 2026-12-24T13:00Z to 2026-12-25T13:00Z.
    expect(localDate(new Date("2026-12-24T12:59:59Z"), "Australia/Sydney")).toBe("2026-12-24");
    expect(localDate(new Date("2026-12-24T13:00:00Z"), "Australia/Sydney")).toBe("2026-12-25");
    expect(localDate(new Date("2026-12-24T13:00:00Z"), "UTC")).toBe("2026-12-24");
    expect(localDate(new Date("2026-12-25T12:59:59Z"), "Australia/Sydney")).toBe("2026-12-25");
    expect(localDate(new Date("2026-12-25T13:00:00Z"), "Australia/Sydney")).toBe("2026-12-26");
    // UTC+10 in winter, and a zone behind UTC.
    expect(localDate(new Date("2026-07-01T14:00:00Z"), "Australia/Sydney")).toBe("2026-07-02");
    expect(localDate(new Date("2027-01-01T05:00:00Z"), "America/Los_Angeles")).toBe("2026-12-31");
  });

  it("hasFreeChannel counts trunk legs against settings.channels", () => {
    expect(hasFreeChannel(pbx, { forwardAll: {}, activeExternalCalls: 1 })).toBe(true);
    expect(hasFreeChannel(pbx, { forwardAll: {}, activeExternalCalls: 1 }, 2)).toBe(false);
    expect(hasFreeChannel(pbx, { forwardAll: {}, activeExternalCalls: 2 })).toBe(false);
  });
});

describe("inbound calls", () => {
  it("refuses a DID without a call route with 404", () => {
    const decision = expectType(decide(inbound("+61299999999")), "reject");
    expect(decision).toMatchObject({ status: 404, phrase: "Not Found" });
    expect(decision.inbound).toBeUndefined();
  });

  it("matches the DID in the carrier's format and rings the route's ring group without voicemail", () => {
    const decision = expectType(decide(inbound("0290000000")), "ringGroup");
    expect(decision).toMatchObject({
      groupId: "rg_sales1",
      members: ["100", "101"],
      strategy: "hunt",
      ringSeconds: 20,
      noAnswer: { type: "voicemail", box: "102", mode: "deposit" },
    });
    expect(decision.inbound).toMatchObject({
      routeId: "rt_main01",
      localDate: "2026-12-24",
      passcode: null,
      record: true,
    });
    expect(decision.reason).toMatch(/not a day of holiday "Christmas"/);
    expect(decision.reason).toMatch(/without the members' voicemail/);
  });

  it("declines a blacklisted caller with 603 before anything else, so nothing ever rings", () => {
    const everything: RuntimeState = { forwardAll: { rt_main01: "0400555666" }, activeExternalCalls: 2 };
    const christmas = new Date("2026-12-25T01:00:00Z");
    for (const callerId of ["+61 400 123 456", "0400123456", "61400123456", "1234"]) {
      const decision = expectType(decide(inbound("+61290000000", callerId), everything, christmas), "reject");
      expect(decision).toMatchObject({ status: 603, phrase: "Decline" });
      expect(decision.reason).toMatch(/blacklist/);
    }
    expect(expectType(decide(inbound("+61290000001", "0400123456")), "reject").reason).toMatch(/nuisance/);
    // Not a match: a different number, a short number that is only a suffix, a withheld number.
    expect(decide(inbound("+61290000000", "0400123457")).type).toBe("ringGroup");
    expect(decide(inbound("+61290000000", "51234")).type).toBe("ringGroup");
    expect(decide(inbound("+61290000000", null)).type).toBe("ringGroup");
  });

  it("refuses a call beyond the channel count with 503", () => {
    const full = { forwardAll: {}, activeExternalCalls: 2 };
    const decision = expectType(decide(inbound("+61290000000"), full), "reject");
    expect(decision).toMatchObject({ status: 503, phrase: "Channel limit reached" });
    expect(decision.reason).toMatch(/channel limit reached/);
    expect(decide(inbound("+61290000000"), { forwardAll: {}, activeExternalCalls: 1 }).type).toBe("ringGroup");
  });

  it("forwards all calls to the destination set by dial code, before the holiday, as a diverted call", () => {
    const state = { forwardAll: { rt_main01: "0400555666" }, activeExternalCalls: 0 };
    const christmas = new Date("2026-12-25T01:00:00Z");
    const decision = expectType(decide(inbound("+61290000000", "+61755501234"), state, christmas), "external");
    expect(decision).toMatchObject({
      number: "0400555666",
      callerId: "+61755501234",
      divertedFrom: "+61290000000",
      record: true,
    });
    expect(decision.reason).toMatch(/Call Forward All is set to 0400555666/);
    // A withheld caller stays withheld.
    expect(expectType(decide(inbound("+61290000000", null), state), "external").callerId).toBeNull();
  });

  it("needs a second channel to forward an inbound call back out", () => {
    const state = { forwardAll: { rt_main01: "0400555666" }, activeExternalCalls: 1 };
    const decision = expectType(decide(inbound("+61290000000"), state), "reject");
    expect(decision.status).toBe(503);
    expect(decision.reason).toMatch(/second channel/);
    expect(
      expectType(decide(inbound("+61290000003"), { forwardAll: {}, activeExternalCalls: 1 }), "reject").status,
    ).toBe(503);
    expect(expectType(decide(inbound("+61290000003")), "external")).toMatchObject({
      number: "0400111222",
      divertedFrom: "+61290000003",
      record: false,
    });
  });

  it("ignores a stored forward-all destination while forwarding is turned off on the route", () => {
    const state = { forwardAll: { rt_direct: "0400555666", rt_main01: null }, activeExternalCalls: 0 };
    expect(decide(inbound("+61290000002"), state).type).toBe("ringExtensions");
    expect(decide(inbound("+61290000000"), state).type).toBe("ringGroup");
  });

  it("applies the holiday for the whole local day in the route's time zone (Sydney vs UTC at midnight)", () => {
    // 2026-12-24T13:30Z is 00:30 on the 25th in Sydney but still the 24th in UTC.
    const justAfterSydneyMidnight = new Date("2026-12-24T13:30:00Z");
    const sydney = expectType(decide(inbound("+61290000000"), idle, justAfterSydneyMidnight), "announcement");
    expect(sydney).toMatchObject({
      announcementId: "ann_closed",
      message: "We are closed today.",
      next: { type: "hangup" },
    });
    expect(sydney.inbound?.localDate).toBe("2026-12-25");
    expect(sydney.reason).toMatch(/2026-12-25 in Australia\/Sydney is a day of holiday "Christmas"/);
    const utc = expectType(decide(inbound("+61290000002"), idle, justAfterSydneyMidnight), "ringExtensions");
    expect(utc.inbound?.localDate).toBe("2026-12-24");

    // One second before Sydney's midnight: not yet a holiday there.
    expect(decide(inbound("+61290000000"), idle, new Date("2026-12-24T12:59:59Z")).type).toBe("ringGroup");
    // The night of the 26th in Sydney (23:59) is still the holiday; the 27th is not.
    expect(decide(inbound("+61290000000"), idle, new Date("2026-12-26T12:59:59Z")).type).toBe("announcement");
    expect(decide(inbound("+61290000000"), idle, new Date("2026-12-26T13:00:00Z")).type).toBe("ringGroup");
    // The UTC route's holiday starts at UTC midnight.
    expect(decide(inbound("+61290000002"), idle, new Date("2026-12-25T00:00:00Z")).type).toBe("announcement");
  });

  it("carries the caller passcode to collect, and the conference room PIN", () => {
    const decision = expectType(decide(inbound("+61290000001")), "conference");
    expect(decision).toMatchObject({ roomId: "conf_board1", number: "800", pin: "4321", maxParticipants: 50 });
    expect(decision.inbound?.passcode).toBe("9876");
    expect(decision.reason).toMatch(/passcode/);
  });

  it("rings an extension reached from a route with its voicemail, and carries the fax email", () => {
    const decision = expectType(decide(inbound("+61290000002")), "ringExtensions");
    expect(decision).toMatchObject({ extensions: ["100"], voicemailBox: "100" });
    expect(decision.inbound).toMatchObject({ faxEmail: "fax@example.com", record: false, timezone: "UTC" });
  });

  it("records inbound calls and emails faxes only while the plugins are enabled", () => {
    const c = config({ addons: {} });
    expect(decide(inbound("+61290000000"), idle, workday, c).inbound?.record).toBe(false);
    expect(decide(inbound("+61290000002"), idle, workday, c).inbound?.faxEmail).toBeNull();
  });

  it("refuses with a reason when a reference is missing or a passcode is not set", () => {
    const c = config({
      callRoutes: [
        route("rt_room01", "+61290000010", { activity: { type: "conference", conferenceRoomId: "conf_gone01" } }),
        route("rt_hol001", "+61290000011", { activity: { type: "hangup" }, holidayId: "hol_gone01" }),
        route("rt_pass01", "+61290000012", { activity: { type: "hangup" }, passcode: { enabled: true } }),
        route("rt_ann001", "+61290000013", { activity: { type: "announcement", announcementId: "ann_gone01" } }),
      ],
      ringGroups: [{ ...base.ringGroups[0], members: ["100", "199"] }],
    });
    const room = expectType(decide(inbound("+61290000010"), idle, workday, c), "reject");
    expect(room).toMatchObject({ status: 404 });
    expect(room.reason).toMatch(/conf_gone01 does not exist/);
    expect(expectType(decide(inbound("+61290000011"), idle, workday, c), "reject").reason).toMatch(/hol_gone01/);
    expect(expectType(decide(inbound("+61290000012"), idle, workday, c), "reject").status).toBe(403);
    expect(expectType(decide(inbound("+61290000013"), idle, workday, c), "reject").reason).toMatch(/ann_gone01/);
    const group = expectType(decide(dial("101", "600"), idle, workday, c), "ringGroup");
    expect(group.members).toEqual(["100"]);
    expect(group.reason).toMatch(/199 skipped/);
  });

  it("plays an announcement and then continues to its final activity", () => {
    const c = config({
      announcements: [
        {
          id: "ann_after1",
          name: "After hours",
          message: "Please hold.",
          next: { type: "ringGroup", ringGroupId: "rg_sales1" },
        },
      ],
      holidays: [],
      callRoutes: [
        route("rt_ann001", "+61290000013", { activity: { type: "announcement", announcementId: "ann_after1" } }),
      ],
    });
    const decision = expectType(decide(inbound("+61290000013"), idle, workday, c), "announcement");
    expect(decision.message).toBe("Please hold.");
    expect(expectType(decision.next, "ringGroup").noAnswer).toMatchObject({ type: "voicemail", box: "102" });
    expect(decision.reason).toMatch(/Play announcement "After hours", then ring group "Sales"/i);
  });
});

describe("internal calls", () => {
  it("777 opens the caller's own voicemail box, PIN then #", () => {
    expect(expectType(decide(dial("100", "777")), "voicemailAccess")).toMatchObject({ box: "100", pinTerminator: "#" });
    expect(expectType(decide(dial("102", "777#")), "voicemailAccess").box).toBe("102");
    expect(expectType(decide(dial("101", "777")), "reject").status).toBe(404);
  });

  it("a forward-all dial code followed by digits sets the destination; the code alone clears it", () => {
    expect(expectType(decide(dial("101", "*4010400555666")), "setForwardAll")).toMatchObject({
      routeId: "rt_main01",
      did: "+61290000000",
      dialCode: "*401",
      destination: "0400555666",
    });
    expect(expectType(decide(dial("101", "*401+61400555666")), "setForwardAll").destination).toBe("+61400555666");
    const state = { forwardAll: { rt_main01: "0400555666" }, activeExternalCalls: 0 };
    const clear = expectType(decide(dial("101", "*401"), state), "clearForwardAll");
    expect(clear).toMatchObject({ routeId: "rt_main01", dialCode: "*401", previous: "0400555666" });
    expect(clear.reason).toMatch(/was forwarding to 0400555666/);
    expect(expectType(decide(dial("101", "*401")), "clearForwardAll").previous).toBeNull();
  });

  it("refuses forward-all codes that are off, digits that are not a number, and unknown codes", () => {
    expect(expectType(decide(dial("100", "*4020400555666")), "reject").status).toBe(403);
    expect(expectType(decide(dial("100", "*40112")), "reject")).toMatchObject({
      status: 484,
      phrase: "Address Incomplete",
    });
    expect(expectType(decide(dial("100", "*999")), "reject").status).toBe(404);
  });

  it("picks the longest forward-all dial code that prefixes what was dialled", () => {
    const c = config({
      callRoutes: [
        route("rt_short1", "+61290000020", {
          activity: { type: "hangup" },
          forwardAll: { enabled: true, dialCode: "*40" },
        }),
        route("rt_long01", "+61290000021", {
          activity: { type: "hangup" },
          forwardAll: { enabled: true, dialCode: "*401" },
        }),
      ],
    });
    expect(decide(dial("100", "*4015551234"), idle, workday, c)).toMatchObject({
      type: "setForwardAll",
      routeId: "rt_long01",
      destination: "5551234",
    });
    expect(decide(dial("100", "*40"), idle, workday, c)).toMatchObject({
      type: "clearForwardAll",
      routeId: "rt_short1",
    });
    expect(decide(dial("100", "*4025551234"), idle, workday, c)).toMatchObject({
      type: "setForwardAll",
      routeId: "rt_short1",
      destination: "25551234",
    });
  });

  it("rings a directly dialled extension with its voicemail on no answer when enabled", () => {
    expect(expectType(decide(dial("101", "100")), "ringExtensions")).toMatchObject({
      extensions: ["100"],
      voicemailBox: "100",
    });
    expect(expectType(decide(dial("100", "101")), "ringExtensions").voicemailBox).toBeNull();
  });

  it("rings a ring group without members' voicemail, and joins conference rooms with or without PIN", () => {
    const group = expectType(decide(dial("102", "600")), "ringGroup");
    expect(group).toMatchObject({ members: ["100", "101"], noAnswer: { type: "voicemail", box: "102" } });
    expect(expectType(decide(dial("100", "800")), "conference").pin).toBe("4321");
    expect(expectType(decide(dial("100", "801")), "conference").pin).toBeNull();
  });

  it("speed dials follow their activity: ring group, conference, external, voicemail deposit", () => {
    const sales = expectType(decide(dial("102", "900")), "ringGroup");
    expect(sales).toMatchObject({ groupId: "rg_sales1", members: ["100", "101"] });
    expect(sales.reason).toMatch(/speed dial "Sales line"/i);
    expect(expectType(decide(dial("102", "901")), "conference").roomId).toBe("conf_board1");
    expect(expectType(decide(dial("100", "902")), "external")).toMatchObject({
      number: "0400999888",
      callerId: "+61290000000",
      record: true,
      divertedFrom: null,
    });
    expect(expectType(decide(dial("101", "903")), "voicemail")).toMatchObject({ box: "100", mode: "deposit" });
    const full = { forwardAll: {}, activeExternalCalls: 2 };
    expect(expectType(decide(dial("100", "902"), full), "reject").status).toBe(503);
    // Internal destinations need no channel.
    expect(decide(dial("100", "900"), full).type).toBe("ringGroup");
  });

  it("dials other numbers out through the trunk with the extension's caller ID and recording flag", () => {
    expect(expectType(decide(dial("100", "0400 111-222")), "external")).toMatchObject({
      number: "0400111222",
      callerId: "+61290000000",
      record: true,
    });
    const bob = expectType(decide(dial("101", "+442071234567")), "external");
    expect(bob).toMatchObject({ number: "+442071234567", callerId: null, record: false });
    expect(bob.reason).toMatch(/trunk's default caller ID/);
    // recordOutbound only counts while the Call Recording Plugin is enabled.
    expect(
      expectType(decide(dial("100", "0400111222"), idle, workday, config({ addons: {} })), "external").record,
    ).toBe(false);
  });

  it("refuses an external call beyond the channel count with 503", () => {
    const decision = expectType(
      decide(dial("100", "0400111222"), { forwardAll: {}, activeExternalCalls: 2 }),
      "reject",
    );
    expect(decision).toMatchObject({ status: 503, phrase: "Channel limit reached" });
    expect(decide(dial("100", "0400111222"), { forwardAll: {}, activeExternalCalls: 1 }).type).toBe("external");
  });

  it("refuses unknown numbers with 404 and callers that are not extensions with 403", () => {
    for (const dialled of ["12", "abc", "", "*", "+12"]) {
      expect(expectType(decide(dial("100", dialled)), "reject").status).toBe(404);
    }
    expect(expectType(decide(dial("199", "100")), "reject").status).toBe(403);
  });
});
