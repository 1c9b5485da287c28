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
