import * as z from "zod";
import type { PbxConfig } from "../config/schema.ts";
import { type ForwardAllTable, ForwardDestination } from "../runtime/forward-all.ts";

/**
 * The WebSocket protocol between the edge's node hub and media nodes (JSON text frames), one
 * definition for both ends. Node → hub frames are validated by the edge with NodeMessage.
 */

/** One finished call as the media node reports it; the edge lists them under /calls. */
export const CallRecord = z.object({
  /** The caller leg's SIP Call-ID: unique per call, so a repeated report is stored once. */
  callId: z.string().min(1).max(256),
  direction: z.enum(["internal", "inbound", "outbound"]),
  from: z.string().max(64),
  to: z.string().max(64),
  /** The DID's call route, for inbound calls. */
  routeId: z.string().max(64).nullable().default(null),
  startedAt: z.iso.datetime(),
  answeredAt: z.iso.datetime().nullable(),
  endedAt: z.iso.datetime(),
  disposition: z.enum(["answered", "busy", "no answer", "cancelled", "failed", "rejected"]),
  /** Which device took the call (its contact), when answered. */
  answeredBy: z.string().max(512).nullable().default(null),
  recordingId: z.string().max(128).nullable().default(null),
});
export type CallRecord = z.infer<typeof CallRecord>;

/**
 * One fax, received (inbound: a call to a Virtual FAX route, or a fax heard on a voice route) or
 * sent (outbound: email-to-fax through the trunk), as the media node reports it when it is over;
 * the edge lists them as the PBX's fax log under /faxes.
 */
export const FaxRecord = z.object({
  /** Unique per fax (the SIP Call-ID of its call, or of its last attempt): a repeated report is stored once. */
  id: z.string().min(1).max(256),
  direction: z.enum(["inbound", "outbound"]),
  /** Inbound: the caller's number ("anonymous" when withheld). Outbound: the caller ID presented. */
  from: z.string().max(64),
  /** Inbound: the DID called. Outbound: the number dialled. */
  to: z.string().max(64),
  /** Pages that went through (received or sent). */
  pages: z.number().int().min(0).max(100_000),
  /** success: every page and T.30 ended OK; partial: some pages, then a failure; failed: no page. */
  result: z.enum(["success", "partial", "failed"]),
  /** What happened in words: T.30's completion text ("OK", "The call dropped prematurely"), or "busy", "no answer". */
  detail: z.string().max(300).default(""),
  /** The far fax machine's identity (TSI/CSI), when it gave one. */
  remoteIdent: z.string().max(64).nullable().default(null),
  /** Inbound: where the fax was emailed. Outbound: the sender told of the result. */
  email: z.string().max(320).nullable().default(null),
  /** Inbound: the route whose fax address got it. */
  routeId: z.string().max(64).nullable().default(null),
  startedAt: z.iso.datetime(),
  /** From the call's start (or the first attempt's) to the end of the fax. */
  durationMs: z.number().int().min(0),
});
export type FaxRecord = z.infer<typeof FaxRecord>;

const PbxId = z.string().min(1).max(64);
const RouteId = z.string().min(1).max(64);

/** Who is in a conference room now, as the node that hosts it reports it (the portal shows it). */
export const ConferenceParticipant = z.object({
  /** The caller's number as presented ("anonymous" when withheld). */
  caller: z.string().min(1).max(64),
  joinedAt: z.iso.datetime(),
});
export type ConferenceParticipant = z.infer<typeof ConferenceParticipant>;

export const NodeMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("hello"), have: z.record(z.string().max(64), z.number().int()).default({}) }),
  z.object({ type: z.literal("ack"), pbx: PbxId, version: z.number().int().positive() }),
  z.object({ type: z.literal("ping") }),
  z.object({ type: z.literal("call"), pbx: PbxId, record: CallRecord }),
  /** A fax is over, either direction: the PBX's fax log. */
  z.object({ type: z.literal("fax"), pbx: PbxId, fax: FaxRecord }),
  /** A phone dialled a route's forward-all code: set (destination) or cleared (null). */
  z.object({
    type: z.literal("forwardAll"),
    pbx: PbxId,
    route: RouteId,
    destination: ForwardDestination.nullable(),
  }),
  /** A room's participants after someone joined or left (empty: the room closed). */
  z.object({
    type: z.literal("conference"),
    pbx: PbxId,
    room: z.string().min(1).max(64),
    participants: z.array(ConferenceParticipant).max(500),
    /** Increases with every report of this node's connection: a report handled late never wins. */
    seq: z.number().int().nonnegative(),
  }),
]);
export type NodeMessage = z.infer<typeof NodeMessage>;

export type HubMessage =
  | { type: "config"; pbx: string; version: number; config: PbxConfig }
  | { type: "remove"; pbx: string }
  /** The PBX's whole forward-all table: on connect, and after every change from anywhere. */
  | { type: "forwardAll"; pbx: string; table: ForwardAllTable }
  | { type: "synced"; pbxs: number }
  | { type: "pong" }
  | { type: "error"; message: string };

/** The largest frame a node may send. */
export const MAX_NODE_FRAME = 64 * 1024;
