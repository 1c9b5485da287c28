import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseDtmfInfo } from "./dtmf-info.ts";

const body = (text: string) => Buffer.from(text);

describe("parseDtmfInfo", () => {
  test("application/dtmf-relay as SIP.js and JsSIP send it", () => {
    assert.deepEqual(parseDtmfInfo("application/dtmf-relay", body("Signal=5\r\nDuration=160\r\n")), {
      digit: "5",
      durationMs: 160,
    });
    assert.deepEqual(parseDtmfInfo("Application/DTMF-Relay; charset=utf-8", body("Signal= #\nDuration= 250")), {
      digit: "#",
      durationMs: 250,
    });
    assert.deepEqual(parseDtmfInfo("application/dtmf-relay", body("Signal=d")), { digit: "D", durationMs: 160 });
  });

  test("application/dtmf, and event codes for * # and flash", () => {
    assert.deepEqual(parseDtmfInfo("application/dtmf", body("7")), { digit: "7", durationMs: 160 });
    assert.equal((parseDtmfInfo("application/dtmf-relay", body("Signal=10")) as { digit: string }).digit, "*");
    assert.equal((parseDtmfInfo("application/dtmf-relay", body("Signal=11")) as { digit: string }).digit, "#");
    assert.equal((parseDtmfInfo("application/dtmf-relay", body("Signal=16")) as { digit: string }).digit, "flash");
  });

  test("durations are bounded; anything else is no key or not ours", () => {
    assert.equal(
      (parseDtmfInfo("application/dtmf-relay", body("Signal=1\r\nDuration=99999")) as { durationMs: number })
        .durationMs,
      5000,
    );
    assert.equal(
      (parseDtmfInfo("application/dtmf-relay", body("Signal=1\r\nDuration=-5")) as { durationMs: number }).durationMs,
      160,
    );
    assert.equal(parseDtmfInfo("application/dtmf-relay", body("Signal=12")), null);
    assert.equal(parseDtmfInfo("application/dtmf-relay", body("Signal=55")), null);
    assert.equal(parseDtmfInfo("application/dtmf-relay", body("Duration=100")), null);
    assert.equal(parseDtmfInfo("application/dtmf-relay", body(`Signal=1\r\n${"x".repeat(300)}`)), null);
    assert.equal(parseDtmfInfo("application/media_control+xml", body("<x/>")), "unsupported");
    assert.equal(parseDtmfInfo(undefined, body("Signal=1")), "unsupported");
  });
});
