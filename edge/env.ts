import type { DirectoryObject } from "./directory/DirectoryObject.ts";
import type { NodeHubObject } from "./nodes/NodeHubObject.ts";
import type { PbxObject } from "./pbx/PbxObject.ts";

export interface Env {
  DIRECTORY: DurableObjectNamespace<DirectoryObject>;
  PBX: DurableObjectNamespace<PbxObject>;
  NODE_HUB: DurableObjectNamespace<NodeHubObject>;
  /** Call recordings, keyed pbx/<pbx id>/<file name> (edge/recordings/store.ts). */
  RECORDINGS: R2Bucket;
  /** Announcement recordings admins upload. */
  AUDIO: R2Bucket;
  SMTP_HOST: string;
  SMTP_PORT: string;
  SMTP_USER?: string;
  SMTP_PASSWORD?: string;
  MAIL_FROM: string;
  PORTAL_URL: string;
  SIP_DOMAIN_SUFFIX: string;
  /** The media node's SIP-over-WebSocket URL, handed to the portal's softphone. */
  SIP_WS_URL: string;
  /** Secret; when unset, no media node can connect. */
  MEDIA_NODE_TOKEN?: string;
}

export function directory(env: Env) {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName("directory"));
}

export function pbxObject(env: Env, pbxId: string) {
  return env.PBX.get(env.PBX.idFromName(pbxId));
}

export function nodeHub(env: Env) {
  return env.NODE_HUB.get(env.NODE_HUB.idFromName("hub"));
}
