import { resolve } from "node:path";
import { devMediaNodeToken } from "../scripts/lib/edge.ts";
import { settingsFromEnv } from "./config.ts";
import { MediaNode } from "./MediaNode.ts";

/** `npm start`'s hook: the media node beside the local edge, state under data/media. */
export async function start(ctx: { root: string; dataDir: string; edgeUrl: string | null }) {
  if (!ctx.edgeUrl) throw new Error("the media node needs the edge running first");
  const settings = settingsFromEnv(process.env, {
    edgeUrl: ctx.edgeUrl,
    stateDir: resolve(ctx.dataDir, "media"),
    token: devMediaNodeToken(),
  });
  const node = await MediaNode.start(settings);
  const a = node.addresses;
  const ftp = node.ftp ? `, recordings FTP ${settings.ftp?.host}:${node.ftp.port}` : "";
  const fax = node.emailToFax ? `, email-to-fax SMTP ${settings.emailToFax?.host}:${node.emailToFax.server.port}` : "";
  return { url: `SIP udp/tcp ${a.udp}, WebSocket ${a.ws}${ftp}${fax}`, stop: () => node.stop() };
}
