import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emailToFaxFromEnv } from "./EmailToFax.ts";

describe("email-to-fax settings from the environment", () => {
  it("defaults: SMTP on the SIP host's 2526, fax.<SIP domain>, 10 MB, 50 pages, 3 tries 5 min apart, 60 s of ringing", () => {
    assert.deepEqual(emailToFaxFromEnv({}, "192.0.2.10"), {
      host: "192.0.2.10",
      port: 2526,
      domainPrefix: "fax.",
      maxBytes: 10 * 1024 * 1024,
      maxPages: 50,
      attempts: 3,
      retryDelayMs: 300_000,
      ringTimeoutMs: 60_000,
    });
  });

  it("FAX_SMTP_PORT=off disables it; the rest can be set and is checked", () => {
    assert.equal(emailToFaxFromEnv({ FAX_SMTP_PORT: "off" }, "127.0.0.1"), null);
    const set = emailToFaxFromEnv(
      {
        FAX_SMTP_HOST: "0.0.0.0",
        FAX_SMTP_PORT: "25",
        FAX_DOMAIN_PREFIX: "",
        FAX_MAX_MAIL_MB: "20",
        FAX_MAX_PAGES: "10",
        FAX_ATTEMPTS: "5",
        FAX_RETRY_SECONDS: "60",
        FAX_RING_SECONDS: "45",
      },
      "127.0.0.1",
    );
    assert.deepEqual(set, {
      host: "0.0.0.0",
      port: 25,
      domainPrefix: "",
      maxBytes: 20 * 1024 * 1024,
      maxPages: 10,
      attempts: 5,
      retryDelayMs: 60_000,
      ringTimeoutMs: 45_000,
    });
    assert.throws(() => emailToFaxFromEnv({ FAX_SMTP_PORT: "smtp" }, "h"), /FAX_SMTP_PORT must be 0 to 65535/);
    assert.throws(() => emailToFaxFromEnv({ FAX_ATTEMPTS: "0" }, "h"), /FAX_ATTEMPTS must be 1 to 10/);
    assert.throws(
      () => emailToFaxFromEnv({ FAX_DOMAIN_PREFIX: "fax" }, "h"),
      /FAX_DOMAIN_PREFIX must be labels ending in a dot/,
    );
  });
});
