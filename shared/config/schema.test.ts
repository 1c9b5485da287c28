import { describe, expect, it } from "vitest";
import { parseCertificatePem } from "./certificate.ts";
import ecPem from "./fixtures/ec-certificate.pem?raw";
import certPem from "./fixtures/test-certificate.pem?raw";
import { emptyConfig, PbxConfig } from "./schema.ts";
import { allocateDialCode, validatePbxConfig } from "./validate.ts";

const sip = {
  username: "100",
  ha1Md5: "0".repeat(32),
  ha1Sha256: "0".repeat(64),
  passwordSetAt: "2026-12-01T00:00:00.000Z",
};

function config(overrides: Record<string, unknown> = {}) {
  return PbxConfig.parse({ ...emptyConfig("pbx-test.pbx.edgepbx.local"), ...overrides });
}

function extension(id: string, number: string, extra: Record<string, unknown> = {}) {
  return { id, number, name: `Ext ${number}`, sip: { ...sip, username: number }, ...extra };
}

const paths = (c: PbxConfig) => validatePbxConfig(c).map((i) => i.path.join("."));

describe("PbxConfig schema", () => {
  it("fills defaults for an empty PBX and accepts it", () => {
    const c = emptyConfig("pbx-x.pbx.edgepbx.local");
    expect(c.settings).toEqual({ channels: 4, timezone: "UTC", sipDomain: "pbx-x.pbx.edgepbx.local" });
    expect(c.addons.callRecording).toEqual({ enabled: false, disclaimerAccepted: false, ftp: null });
    expect(validatePbxConfig(c)).toEqual([]);
  });

  it("rejects a holiday date that is not a date in the calendar", () => {
    const result = PbxConfig.safeParse({
      ...emptyConfig("d.pbx"),
      holidays: [{ id: "hol_abcdef", name: "Odd", dates: ["2027-02-30"], action: { type: "hangup" } }],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(["holidays", 0, "dates", 0]);
    expect(result.error?.issues[0]?.message).toMatch(/not a date/);
  });

  it("rejects an unknown time zone and a virtual extension that is not 3-4 digits", () => {
    const result = PbxConfig.safeParse({
      ...emptyConfig("d.pbx"),
      callRoutes: [
        {
          id: "rt_abcdef",
          did: "+61290000000",
          timezone: "Mars/Olympus",
          alertName: "Main",
          activity: { type: "hangup" },
        },
      ],
      virtualExtensions: [
        { id: "vext_abcdef", name: "Speed", number: "12", activity: { type: "external", number: "0400111222" } },
      ],
    });
    expect(result.success).toBe(false);
    const fields = result.error?.issues.map((i) => i.path.join("."));
    expect(fields).toContain("callRoutes.0.timezone");
    expect(fields).toContain("virtualExtensions.0.number");
  });
});

describe("cross-field rules", () => {
  it("refuses a number used twice across extensions, virtual extensions and feature codes", () => {
    const c = config({
      extensions: [extension("ext_aaaaaa", "100"), extension("ext_bbbbbb", "777")],
      virtualExtensions: [
        { id: "vext_cccccc", name: "Dup", number: "100", activity: { type: "external", number: "0299999999" } },
      ],
    });
    const issues = validatePbxConfig(c);
    expect(issues.map((i) => i.path.join("."))).toEqual(["extensions.1.number", "virtualExtensions.0.number"]);
    expect(issues[0]?.message).toMatch(/voicemail feature code/);
    expect(issues[1]?.message).toMatch(/already used by extension Ext 100/);
  });

  it("refuses a DID routed to a conference room that does not exist", () => {
    const c = config({
      callRoutes: [
        {
          id: "rt_aaaaaa",
          did: "+61290000001",
          timezone: "Australia/Sydney",
          alertName: "Conference line",
          activity: { type: "conference", conferenceRoomId: "conf_missing" },
        },
      ],
    });
    expect(paths(c)).toEqual(["callRoutes.0.activity.conferenceRoomId"]);
  });

  it("accepts a DID routed to an existing conference room with a passcode", () => {
    const c = config({
      conferenceRooms: [{ id: "conf_aaaaaa", name: "Board", number: "800" }],
      callRoutes: [
        {
          id: "rt_aaaaaa",
          did: "+61290000001",
          timezone: "Australia/Sydney",
          alertName: "Conference line",
          passcode: { enabled: true, passcode: "4321" },
          activity: { type: "conference", conferenceRoomId: "conf_aaaaaa" },
        },
      ],
    });
    expect(validatePbxConfig(c)).toEqual([]);
  });

  it("refuses call recording without the plugin, and the plugin without the disclaimer", () => {
    const withoutPlugin = config({ extensions: [extension("ext_aaaaaa", "100", { recordOutbound: true })] });
    expect(paths(withoutPlugin)).toEqual(["extensions.0.recordOutbound"]);
    const withoutDisclaimer = config({
      addons: { callRecording: { enabled: true, disclaimerAccepted: false, ftp: null } },
    });
    expect(paths(withoutDisclaimer)).toEqual(["addons.callRecording.disclaimerAccepted"]);
  });

  it("refuses a recording public key that is not a certificate, and accepts the guide's openssl certificate", () => {
    const base = { callRecording: { enabled: true, disclaimerAccepted: true, ftp: null } };
    const garbage = config({
      addons: { ...base, recordingEncryption: { enabled: true, publicKeyPem: "ssh-rsa AAAAB3Nza me@host" } },
    });
    expect(validatePbxConfig(garbage)[0]).toMatchObject({
      path: ["addons", "recordingEncryption", "publicKeyPem"],
      message: expect.stringMatching(/not a PEM certificate/),
    });
    const corrupted = config({
      addons: {
        ...base,
        recordingEncryption: { enabled: true, publicKeyPem: certPem.replace(/MII[A-Za-z]/, "MIIZ").slice(0, 200) },
      },
    });
    expect(paths(corrupted)).toEqual(["addons.recordingEncryption.publicKeyPem"]);
    const good = config({ addons: { ...base, recordingEncryption: { enabled: true, publicKeyPem: certPem } } });
    expect(validatePbxConfig(good)).toEqual([]);
    expect(parseCertificatePem(certPem).subject).toContain("EdgePBX Test Recordings");
    expect(() => parseCertificatePem(ecPem)).toThrow(/RSA/);
  });

  it("checks references of ring groups, holidays, announcements and voicemail", () => {
    const c = config({
      extensions: [extension("ext_aaaaaa", "100")],
      ringGroups: [{ id: "rg_aaaaaa", name: "Sales", number: "600", members: ["100", "199"] }],
      holidays: [
        {
          id: "hol_aaaaaa",
          name: "Christmas",
          dates: ["2026-12-25", "2026-12-25"],
          action: { type: "announcement", announcementId: "ann_missing" },
        },
      ],
      callRoutes: [
        {
          id: "rt_aaaaaa",
          did: "+61290000002",
          timezone: "UTC",
          alertName: "Main",
          activity: { type: "voicemail", extension: "100" },
          holidayId: "hol_missing",
        },
      ],
    });
    expect(paths(c).sort()).toEqual(
      [
        "callRoutes.0.activity.extension",
        "callRoutes.0.holidayId",
        "holidays.0.action.announcementId",
        "holidays.0.dates.1",
        "ringGroups.0.members.1",
      ].sort(),
    );
  });

  it("refuses a DID routed twice and virtual fax without the plugin", () => {
    const route = { timezone: "UTC", alertName: "Fax", activity: { type: "hangup" } };
    const c = config({
      callRoutes: [
        { ...route, id: "rt_aaaaaa", did: "+61290000003", virtualFaxEmail: "fax@example.com" },
        { ...route, id: "rt_bbbbbb", did: "+61290000003" },
      ],
    });
    expect(paths(c).sort()).toEqual(["callRoutes.0.virtualFaxEmail", "callRoutes.1.did"]);
  });

  it("allocates forward-all dial codes that are free", () => {
    const route = (id: string, did: string, dialCode: string | null) => ({
      id,
      did,
      timezone: "UTC",
      alertName: "R",
      activity: { type: "hangup" },
      forwardAll: { enabled: dialCode !== null, dialCode },
    });
    const c = config({
      callRoutes: [route("rt_aaaaaa", "+61290000004", "*401"), route("rt_bbbbbb", "+61290000005", "*403")],
    });
    expect(allocateDialCode(c)).toBe("*402");
  });
});
