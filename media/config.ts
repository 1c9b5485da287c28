/** The media node's settings, from the environment, with the defaults `npm start` uses. */
export interface MediaNodeSettings {
  edgeUrl: string;
  nodeId: string;
  token: string;
  stateDir: string;
  sip: { host: string; udpPort: number; tcpPort: number; wsPort: number };
}

export function settingsFromEnv(
  env: NodeJS.ProcessEnv,
  defaults: { edgeUrl: string; stateDir: string; token?: string },
): MediaNodeSettings {
  const port = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number`);
    return value;
  };
  const token = env.MEDIA_NODE_TOKEN ?? defaults.token;
  if (!token) throw new Error("MEDIA_NODE_TOKEN is not set (the edge's node token)");
  return {
    edgeUrl: env.EDGE_URL ?? defaults.edgeUrl,
    nodeId: env.NODE_ID ?? "media-1",
    token,
    stateDir: env.MEDIA_STATE_DIR ?? defaults.stateDir,
    sip: {
      host: env.SIP_HOST ?? "127.0.0.1",
      udpPort: port("SIP_PORT", 5060),
      tcpPort: port("SIP_PORT", 5060),
      wsPort: port("SIP_WS_PORT", 5066),
    },
  };
}
