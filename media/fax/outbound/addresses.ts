import type { FaxSender, PbxConfig } from "../../../shared/index.ts";
import type { PbxDirectory, PbxEntry } from "../../pbx/PbxDirectory.ts";

/** The label put before a PBX's SIP domain to make its fax domain, unless the node says otherwise (FAX_DOMAIN_PREFIX). */
export const DEFAULT_FAX_DOMAIN_PREFIX = "fax.";

/** The fewest digits of a number we fax (no short codes or emergency numbers) and the most (E.164 and a prefix). */
const MIN_DIGITS = 6;
const MAX_DIGITS = 16;

/** A PBX's fax domain: `fax.<SIP domain>` by default; mail for `<number>@<fax domain>` is faxed to the number. */
export function faxDomain(config: PbxConfig, prefix = DEFAULT_FAX_DOMAIN_PREFIX): string {
  return `${prefix}${config.settings.sipDomain}`.toLowerCase();
}

/** Why a recipient or a sender is refused: the SMTP reply code and the text the sender reads in the bounce. */
export interface Refusal {
  code: number;
  message: string;
}

/** A recipient we fax to: the PBX whose fax domain it is and the number to dial. */
export interface FaxRecipient {
  pbx: PbxEntry;
  /** Digits with an optional leading +, as dialled through the trunk. */
  number: string;
}

/**
 * `<number>@<prefix><SIP domain>` → the PBX and the number, or why not. The number may be written
 * with separators (+61-2-9000.1000); what is left must be 6 to 16 digits with an optional leading +.
 */
export function parseFaxRecipient(
  address: string,
  directory: PbxDirectory,
  prefix = DEFAULT_FAX_DOMAIN_PREFIX,
): FaxRecipient | Refusal {
  const at = address.lastIndexOf("@");
  const local = address.slice(0, at).replace(/^"|"$/g, "");
  const domain = address.slice(at + 1).toLowerCase();
  const sipDomain = domain.startsWith(prefix.toLowerCase()) ? domain.slice(prefix.length) : null;
  const pbx = at > 0 && sipDomain ? directory.byDomain(sipDomain) : undefined;
  if (!pbx)
    return {
      code: 550,
      message: `<${address}>: no such fax domain here (fax mail goes to <number>@${prefix}<your PBX's SIP domain>)`,
    };
  const number = local.replace(/[\s().-]/g, "");
  const digits = number.replace(/^\+/, "");
  if (!/^\+?[0-9]+$/.test(number) || digits.length < MIN_DIGITS || digits.length > MAX_DIGITS)
    return {
      code: 553,
      message: `<${address}>: "${local}" is not a fax number (${MIN_DIGITS} to ${MAX_DIGITS} digits, an optional leading +)`,
    };
  return { pbx, number };
}

/**
 * Whether `sender` (the envelope sender) may fax from this PBX: the Virtual FAX add-on is on
 * (disclaimer accepted) and the address is one of its allowed senders (case-insensitive). The
 * sender's entry (its caller ID) or the refusal.
 */
export function allowedSender(config: PbxConfig, sender: string): FaxSender | Refusal {
  const addon = config.addons.virtualFax;
  if (!addon.enabled || !addon.disclaimerAccepted)
    return { code: 550, message: "Virtual FAX is not enabled for this PBX: nothing was sent" };
  const wanted = sender.trim().toLowerCase();
  const entry = wanted ? config.faxSenders.find((s) => s.email.toLowerCase() === wanted) : undefined;
  if (!entry)
    return {
      code: 550,
      message: `<${sender || "null sender"}> is not an allowed Virtual FAX sender of this PBX: nothing was sent`,
    };
  return entry;
}

export function isRefusal(value: object): value is Refusal {
  return "code" in value && "message" in value;
}
