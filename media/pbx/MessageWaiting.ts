import { randomToken } from "../sip/core/headers.ts";
import { SipRequest } from "../sip/core/message.ts";
import type { SipEndpoint } from "../sip/core/SipEndpoint.ts";
import type { BoxCounts, Voicemail } from "../voicemail/Voicemail.ts";
import type { PbxDirectory } from "./PbxDirectory.ts";
import type { Binding, Registrar } from "./Registrar.ts";

/**
 * Message-waiting (RFC 3842): whenever a box's messages change, and when a device of the box's
 * extension registers, each device gets a NOTIFY with Event: message-summary (unsolicited, as
 * PBXs send it to phones that did not subscribe), so its lamp shows new messages.
 */
export class MessageWaiting {
  constructor(
    private readonly endpoint: SipEndpoint,
    registrar: Registrar,
    private readonly directory: PbxDirectory,
    voicemail: Voicemail,
  ) {
    voicemail.on("changed", (pbxId, box, counts) => {
      for (const binding of registrar.lookup(pbxId, box)) this.notify(binding, counts);
    });
    registrar.on("registered", (binding) => {
      const extension = directory.get(binding.pbxId)?.extensions.get(binding.extension);
      if (!extension?.voicemail.enabled) return;
      voicemail.counts(binding.pbxId, extension.number).then(
        (counts) => this.notify(binding, counts),
        () => {},
      );
    });
  }

  private notify(binding: Binding, counts: BoxCounts): void {
    const domain = this.directory.get(binding.pbxId)?.config.settings.sipDomain;
    if (!domain) return;
    const account = `sip:${binding.extension}@${domain}`;
    const notify = new SipRequest("NOTIFY", binding.contact);
    notify.append("From", `<${account}>;tag=${randomToken()}`);
    notify.append("To", `<${account}>`);
    notify.append("Call-ID", `${randomToken(12)}@edgepbx`);
    notify.append("CSeq", "1 NOTIFY");
    notify.append("Max-Forwards", "70");
    notify.append("Event", "message-summary");
    notify.append("Subscription-State", "active");
    notify.append("Content-Type", "application/simple-message-summary");
    notify.body = Buffer.from(messageSummary(account, counts));
    this.endpoint.request(notify, binding.target);
  }
}

/** The RFC 3842 body: Messages-Waiting, the account, and voice messages new/old. */
export function messageSummary(account: string, counts: BoxCounts): string {
  return [
    `Messages-Waiting: ${counts.new > 0 ? "yes" : "no"}`,
    `Message-Account: ${account}`,
    `Voice-Message: ${counts.new}/${counts.saved} (0/0)`,
    "",
  ].join("\r\n");
}
