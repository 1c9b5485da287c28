import { type PbxConfig, SECRET_PLACEHOLDER } from "./schema.ts";

/**
 * The configuration as people may see it: digest HA1s, PIN and FTP password hashes are
 * replaced by a placeholder. Changes stay visible through `passwordSetAt` and the
 * placeholder appearing or disappearing.
 */
export function redactConfig(config: PbxConfig): PbxConfig {
  const ftp = config.addons.callRecording.ftp;
  return {
    ...config,
    extensions: config.extensions.map((e) => ({
      ...e,
      sip: { ...e.sip, ha1Md5: SECRET_PLACEHOLDER, ha1Sha256: SECRET_PLACEHOLDER },
      voicemail: { ...e.voicemail, pinHash: e.voicemail.pinHash === null ? null : SECRET_PLACEHOLDER },
    })),
    addons: {
      ...config.addons,
      callRecording: {
        ...config.addons.callRecording,
        ftp: ftp === null ? null : { ...ftp, passwordHash: SECRET_PLACEHOLDER },
      },
    },
  };
}

/**
 * The inverse for a configuration sent back by a client: each placeholder takes the stored
 * secret of the same entity. Placeholders with nothing stored behind them are returned as paths.
 */
export function restoreSecrets(
  incoming: PbxConfig,
  stored: PbxConfig,
): { config: PbxConfig; missing: (string | number)[][] } {
  const missing: (string | number)[][] = [];
  const storedExtensions = new Map(stored.extensions.map((e) => [e.id, e]));
  const extensions = incoming.extensions.map((e, i) => {
    const previous = storedExtensions.get(e.id);
    let sip = e.sip;
    if (sip.ha1Md5 === SECRET_PLACEHOLDER || sip.ha1Sha256 === SECRET_PLACEHOLDER) {
      // HA1 depends on the username: keep it only if the username is unchanged.
      if (previous && previous.sip.username === sip.username) sip = { ...sip, ...pickHa1(previous.sip) };
      else missing.push(["extensions", i, "sipPassword"]);
    }
    let pinHash = e.voicemail.pinHash;
    if (pinHash === SECRET_PLACEHOLDER) {
      pinHash = previous?.voicemail.pinHash ?? null;
      if (pinHash === null) missing.push(["extensions", i, "voicemail", "pin"]);
    }
    return { ...e, sip, voicemail: { ...e.voicemail, pinHash } };
  });
  let ftp = incoming.addons.callRecording.ftp;
  if (ftp?.passwordHash === SECRET_PLACEHOLDER) {
    const previous = stored.addons.callRecording.ftp;
    if (previous) ftp = { ...ftp, passwordHash: previous.passwordHash };
    else missing.push(["addons", "callRecording", "ftp", "password"]);
  }
  return {
    config: {
      ...incoming,
      extensions,
      addons: { ...incoming.addons, callRecording: { ...incoming.addons.callRecording, ftp } },
    },
    missing,
  };
}

function pickHa1(sip: PbxConfig["extensions"][number]["sip"]) {
  return { ha1Md5: sip.ha1Md5, ha1Sha256: sip.ha1Sha256, passwordSetAt: sip.passwordSetAt };
}
