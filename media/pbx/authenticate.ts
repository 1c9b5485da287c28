import type { Extension } from "../../shared/index.ts";
import type { DigestAuthenticator } from "../sip/core/digest.ts";
import { createResponse } from "../sip/core/responses.ts";
import type { ServerTransaction } from "../sip/core/transactions/ServerTransaction.ts";
import type { PbxEntry } from "./PbxDirectory.ts";

/**
 * Digest-checks a request against the PBX's extensions (realm = the PBX's SIP domain). A
 * registrar challenges with 401/WWW-Authenticate, a proxy or B2BUA with 407/Proxy-Authenticate
 * (RFC 3261 §22.3). On failure the challenge is sent and null returned.
 */
export function authenticateExtension(
  digest: DigestAuthenticator,
  pbx: PbxEntry,
  tx: ServerTransaction,
  role: "registrar" | "proxy",
): Extension | null {
  const { request, peer } = tx;
  const realm = pbx.config.settings.sipDomain;
  const header = role === "registrar" ? "Authorization" : "Proxy-Authorization";
  const auth = digest.verify(request.get(header), request.method, realm, (username) => {
    const extension = pbx.extensions.get(username);
    return extension && extension.sip.username === username ? extension.sip : null;
  });
  if (auth.ok) return pbx.extensions.get(auth.username) ?? null;
  const challenge = createResponse(request, role === "registrar" ? 401 : 407, undefined, peer);
  const name = role === "registrar" ? "WWW-Authenticate" : "Proxy-Authenticate";
  for (const value of digest.challenges(realm, auth.stale, request.get("User-Agent"))) challenge.append(name, value);
  tx.respond(challenge);
  return null;
}
