import { createHmac, hash as oneShotHash, randomBytes, timingSafeEqual } from "node:crypto";
import { parseDigest } from "./headers.ts";

/**
 * Server side of HTTP digest for SIP (RFC 3261 §22, RFC 7616, RFC 8760): challenges with MD5 and
 * SHA-256, responses checked against the stored HA1 (never a password). Nonces are stateless:
 * a timestamp signed with a per-process secret, so any worker can check them and they expire.
 */

export type DigestAlgorithm = "MD5" | "SHA-256";

export interface DigestCredentials {
  ha1Md5: string;
  ha1Sha256: string;
}

const NONCE_TTL_MS = 5 * 60_000;

/**
 * Challenge order. RFC 8760 asks clients to use the first challenge they support, but many
 * phones (and sipp) only ever read the first one and fail on SHA-256; so MD5 leads by default and
 * deployments with modern phones can put SHA-256 first.
 */
export const DEFAULT_ALGORITHMS: readonly DigestAlgorithm[] = ["MD5", "SHA-256"];

/**
 * Phones that give up on the whole 401/407 when any challenge names an algorithm they lack,
 * instead of answering the one they support (RFC 8760 §2.4): libre-based baresip 1.x fails with
 * ENOSYS on the SHA-256 challenge even after an MD5 one; the browser stacks SIP.js (0.21) and
 * JsSIP keep only the last WWW-/Proxy-Authenticate header and abort on its SHA-256. They are
 * challenged with MD5 alone.
 */
const MD5_ONLY_USER_AGENTS = /^(baresip|SIP\.js|JsSIP)\b/i;

export class DigestAuthenticator {
  /** The nonce handed out per realm, renewed each second: one HMAC per realm-second, not per 401. */
  private readonly current = new Map<string, { second: number; nonce: string }>();
  /** Nonces whose signature was already checked, with their issue time (bounded). */
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly algorithms: readonly DigestAlgorithm[] = DEFAULT_ALGORITHMS,
    private readonly secret: Buffer = randomBytes(32),
  ) {}

  /** WWW-Authenticate values for a 401, one per algorithm, in order of preference (MD5 only for some phones). */
  challenges(realm: string, stale = false, userAgent?: string): string[] {
    const nonce = this.nonce(realm);
    const staleParam = stale ? ", stale=true" : "";
    const md5Only = userAgent !== undefined && MD5_ONLY_USER_AGENTS.test(userAgent) && this.algorithms.includes("MD5");
    return (md5Only ? (["MD5"] as const) : this.algorithms).map(
      (algorithm) => `Digest realm="${realm}", nonce="${nonce}", algorithm=${algorithm}, qop="auth"${staleParam}`,
    );
  }

  /**
   * Checks an Authorization header. `lookup` gives the HA1s for a username in this realm, or null.
   * Unknown users and wrong passwords look the same from outside.
   */
  verify(
    header: string | undefined,
    method: string,
    realm: string,
    lookup: (username: string) => DigestCredentials | null,
  ): { ok: true; username: string } | { ok: false; stale: boolean; reason: string } {
    if (!header) return { ok: false, stale: false, reason: "no credentials" };
    const p = parseDigest(header);
    if (!p?.username || !p.nonce || !p.response || !p.uri)
      return { ok: false, stale: false, reason: "malformed credentials" };
    if (p.realm !== realm) return { ok: false, stale: false, reason: "wrong realm" };
    const nonceState = this.checkNonce(p.nonce, realm);
    if (nonceState === "invalid") return { ok: false, stale: false, reason: "bad nonce" };
    const algorithm = (p.algorithm ?? "MD5").toUpperCase();
    if (!this.algorithms.includes(algorithm as DigestAlgorithm))
      return { ok: false, stale: false, reason: "unsupported algorithm" };
    const credentials = lookup(p.username);
    const ha1 = credentials ? (algorithm === "MD5" ? credentials.ha1Md5 : credentials.ha1Sha256) : "0".repeat(64);
    const hashName = algorithm === "MD5" ? "md5" : "sha256";
    const hash = (s: string) => oneShotHash(hashName, s, "hex");
    const ha2 = hash(`${method}:${p.uri}`);
    const qop = p.qop?.toLowerCase();
    let expected: string;
    if (qop === "auth") {
      if (!p.nc || !p.cnonce) return { ok: false, stale: false, reason: "qop=auth without nc/cnonce" };
      expected = hash(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
    } else if (qop === undefined) {
      expected = hash(`${ha1}:${p.nonce}:${ha2}`);
    } else {
      return { ok: false, stale: false, reason: "unsupported qop" };
    }
    const matches = equalHex(expected, p.response.toLowerCase());
    if (!credentials || !matches) return { ok: false, stale: false, reason: "wrong credentials" };
    // A correct answer to an expired nonce: ask again with stale=true so the phone retries silently.
    if (nonceState === "stale") return { ok: false, stale: true, reason: "stale nonce" };
    return { ok: true, username: p.username };
  }

  private nonce(realm: string, now = Date.now()): string {
    const second = Math.floor(now / 1000);
    const cached = this.current.get(realm);
    if (cached?.second === second) return cached.nonce;
    const stamp = now.toString(36);
    const nonce = `${stamp}.${this.sign(stamp, realm)}`;
    if (this.current.size > 10_000) this.current.clear();
    this.current.set(realm, { second, nonce });
    return nonce;
  }

  private checkNonce(nonce: string, realm: string): "fresh" | "stale" | "invalid" {
    const key = `${realm}|${nonce}`;
    let issued = this.verified.get(key);
    if (issued === undefined) {
      const [stamp, signature] = nonce.split(".");
      if (!stamp || !signature || !equalHex(this.sign(stamp, realm), signature)) return "invalid";
      issued = Number.parseInt(stamp, 36);
      if (this.verified.size > 50_000) this.verified.clear();
      this.verified.set(key, issued);
    }
    if (!Number.isFinite(issued) || issued > Date.now() + 1000) return "invalid";
    return Date.now() - issued > NONCE_TTL_MS ? "stale" : "fresh";
  }

  private sign(stamp: string, realm: string): string {
    return createHmac("sha256", this.secret).update(`${stamp}:${realm}`).digest("hex").slice(0, 32);
  }
}

function equalHex(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** HA1 as the edge stores it; used by tests and tools that make credentials. */
export function ha1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return oneShotHash(algorithm === "MD5" ? "md5" : "sha256", `${username}:${realm}:${password}`, "hex");
}

/**
 * Client side: the Authorization value answering a challenge (a parsed WWW-/Proxy-Authenticate),
 * for the node's own requests to the carrier. qop=auth when offered, else RFC 2069 style.
 */
export function digestAuthorization(
  challenge: Record<string, string>,
  credentials: { username: string; password: string },
  method: string,
  uri: string,
  nc = 1,
): string {
  const algorithm = (challenge.algorithm ?? "MD5").toUpperCase() === "SHA-256" ? "SHA-256" : "MD5";
  const hash = (s: string) => oneShotHash(algorithm === "MD5" ? "md5" : "sha256", s, "hex");
  const realm = challenge.realm ?? "";
  const nonce = challenge.nonce ?? "";
  const { username } = credentials;
  const ha1Value = hash(`${username}:${realm}:${credentials.password}`);
  const ha2 = hash(`${method}:${uri}`);
  const quote = (s: string) => s.replace(/["\\]/g, "");
  let value = `Digest username="${quote(username)}", realm="${quote(realm)}", nonce="${quote(nonce)}", uri="${uri}"`;
  const qops = (challenge.qop ?? "").split(",").map((q) => q.trim().toLowerCase());
  if (qops.includes("auth")) {
    const count = nc.toString(16).padStart(8, "0");
    const cnonce = randomBytes(8).toString("hex");
    const response = hash(`${ha1Value}:${nonce}:${count}:${cnonce}:auth:${ha2}`);
    value += `, response="${response}", qop=auth, nc=${count}, cnonce="${cnonce}"`;
  } else {
    value += `, response="${hash(`${ha1Value}:${nonce}:${ha2}`)}"`;
  }
  value += `, algorithm=${algorithm}`;
  if (challenge.opaque !== undefined) value += `, opaque="${quote(challenge.opaque)}"`;
  return value;
}
