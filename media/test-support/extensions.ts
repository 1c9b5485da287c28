import { emptyConfig, PbxConfig } from "../../shared/index.ts";
import { PbxDirectory } from "../pbx/PbxDirectory.ts";
import { ha1 } from "../sip/core/digest.ts";

/** An extension's SIP credentials as the edge pushes them: HA1s for the PBX's realm, never the password. */
export function sipCredentials(username: string, domain: string, password: string, passwordSetAt?: string) {
  return {
    username,
    ha1Md5: ha1("MD5", username, domain, password),
    ha1Sha256: ha1("SHA-256", username, domain, password),
    passwordSetAt: passwordSetAt ?? new Date().toISOString(),
  };
}

/** Extensions of a test PBX from number → SIP password; ids are `<idPrefix><index>`. */
export function testExtensions(
  domain: string,
  passwords: Record<string, string>,
  idPrefix: string,
  name: (number: string) => string = (number) => `Ext ${number}`,
) {
  return Object.entries(passwords).map(([number, password], i) => ({
    id: `${idPrefix}${i}`,
    number,
    name: name(number),
    sip: sipCredentials(number, domain, password),
  }));
}

/**
 * A directory holding one test PBX (version 1): its extensions from number → SIP password and
 * any other part of the config (`more`: conference rooms, routes…), validated as the edge would.
 */
export function testDirectory(
  pbx: { id: string; domain: string; passwords: Record<string, string>; idPrefix: string },
  more: Record<string, unknown> = {},
): PbxDirectory {
  const directory = new PbxDirectory();
  directory.upsert(
    pbx.id,
    1,
    PbxConfig.parse({
      ...emptyConfig(pbx.domain),
      extensions: testExtensions(pbx.domain, pbx.passwords, pbx.idPrefix),
      ...more,
    }),
  );
  return directory;
}
