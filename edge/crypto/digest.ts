import { digestHex } from "../../shared/crypto/password.ts";

/** RFC 7616 HA1 = H(username ":" realm ":" password), for both algorithms a phone may use. */
export async function sipHa1(username: string, realm: string, password: string) {
  const a1 = `${username}:${realm}:${password}`;
  return { ha1Md5: await digestHex("MD5", a1), ha1Sha256: await digestHex("SHA-256", a1) };
}

/** A SIP password a person can type on a desk phone: 16 letters and digits, no look-alikes. */
export function generateSipPassword(): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}
