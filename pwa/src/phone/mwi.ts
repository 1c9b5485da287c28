/**
 * Message-waiting (RFC 3842): the body of a NOTIFY with Event: message-summary, as the media node
 * sends it to every device of a voicemail box whenever the box changes and when a device registers:
 *
 *     Messages-Waiting: yes
 *     Message-Account: sip:101@pbx.example
 *     Voice-Message: 2/1 (0/0)
 *
 * Voice-Message is new/old (here: saved) with the urgent ones in brackets. Part of the phone chunk.
 */

export interface MessageCounts {
  new: number;
  old: number;
}

/**
 * The voice messages a message-summary body tells of; null when it says nothing usable. A body
 * with only "Messages-Waiting: yes" (allowed by the RFC, not what our node sends) counts as one new.
 */
export function parseMessageSummary(body: string): MessageCounts | null {
  const voice = /^Voice-Message[ \t]*:[ \t]*(\d+)\/(\d+)/im.exec(body);
  if (voice) return { new: Number(voice[1]), old: Number(voice[2]) };
  const waiting = /^Messages-Waiting[ \t]*:[ \t]*(yes|no)\b/im.exec(body);
  if (!waiting) return null;
  return { new: waiting[1]?.toLowerCase() === "yes" ? 1 : 0, old: 0 };
}

/** "1 new voicemail", "2 new voicemails": what the Phone screen and the header say. */
export function newVoicemailsText(count: number): string {
  return `${count} new voicemail${count === 1 ? "" : "s"}`;
}
