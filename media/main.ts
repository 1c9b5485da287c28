// The media node on its own (production): `node --import tsx media/main.ts` with EDGE_URL,
// MEDIA_NODE_TOKEN, NODE_ID, MEDIA_STATE_DIR, SIP_HOST, SIP_PORT, SIP_WS_PORT, FTP_PORT (2121, "off"),
// FAX_SMTP_PORT (email-to-fax, 2526, "off").
import { settingsFromEnv } from "./config.ts";
import { MediaNode } from "./MediaNode.ts";

const settings = settingsFromEnv(process.env, { edgeUrl: "http://127.0.0.1:8787", stateDir: "data/media" });
const node = await MediaNode.start(settings);
console.log(
  `media node ${settings.nodeId}: SIP ${node.addresses.udp} (udp/tcp), ${node.addresses.ws}; ` +
    `FTP ${node.ftp ? `${settings.ftp?.host}:${node.ftp.port}` : "off"}; ` +
    `email-to-fax ${node.emailToFax ? `${settings.emailToFax?.host}:${node.emailToFax.server.port}` : "off"}; edge ${settings.edgeUrl}`,
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void node.stop().finally(() => process.exit(0));
  });
}
