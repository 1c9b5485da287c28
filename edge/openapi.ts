import { z } from "zod";
import {
  ContactDetails,
  LoginInput,
  MeUpdate,
  PbxCreate,
  RecoverInput,
  RegisterInput,
  ResetInput,
  TokenCreate,
  UserCreate,
  UserUpdate,
} from "../shared/accounts/schema.ts";
import { Addons, Settings } from "../shared/config/schema.ts";
import {
  AddonsInput,
  COLLECTIONS,
  FaxRecord,
  ForwardAllUpdate,
  MAX_RECORDING_BYTES,
  PbxConfig,
  RECORDING_UPLOAD_HEADERS,
  RecordingSummary,
  RecordingUpload,
  SettingsInput,
} from "../shared/index.ts";

/** OpenAPI 3.1 for /api, with request and entity schemas generated from the shared zod schemas. */

type Operation = Record<string, unknown>;
const json = (ref: string) => ({
  content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});
const ok = (description: string, ref?: string) => (ref ? { description, ...json(ref) } : { description });
const errors = {
  "401": problem("Not logged in"),
  "403": problem("Role or CSRF check failed"),
  "404": problem("Not found, or not yours"),
  "422": problem("Validation failed; errors[] names each field"),
};
const body = (ref: string) => ({ required: true, ...json(ref) });
const pbxParam = { name: "pbx", in: "path", required: true, schema: { type: "string" } };
const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };
const ifMatch = {
  name: "If-Match",
  in: "header",
  required: false,
  schema: { type: "string" },
  description: "ETag from the last read; a stale one gets 409 and nothing is saved.",
};

const recordingQuery = [
  {
    name: "from",
    in: "query",
    schema: { type: "string" },
    description: "Started at or after: a day (2026-04-27, UTC) or an ISO date and time",
  },
  {
    name: "to",
    in: "query",
    schema: { type: "string" },
    description: "Started before: a day (the whole day, UTC) or an ISO date and time (exclusive)",
  },
  { name: "q", in: "query", schema: { type: "string" }, description: "Part of the number at either end" },
  { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 200 } },
];
const recordingFile = {
  parameters: [
    {
      name: "Range",
      in: "header",
      required: false,
      schema: { type: "string" },
      description: "One byte range: bytes=a-b, bytes=a- or bytes=-n",
    },
    { name: "download", in: "query", schema: { type: "string", enum: ["1"] }, description: "As an attachment" },
  ],
};
const recordingFileResponses = {
  "200": {
    description: "The file: audio/mpeg, or application/pkcs7-mime (CMS EnvelopedData, DER) when encrypted",
    content: { "audio/mpeg": {}, "application/pkcs7-mime": {} },
  },
  "206": { description: "The range asked for, with Content-Range" },
  "416": problem("No such bytes in the file (Content-Range: bytes */size)"),
};
const nodeOnly = { security: [{ nodeToken: [] }] };
const recordingUploadHeaderParams = Object.entries(RECORDING_UPLOAD_HEADERS)
  .filter(([, header]) => header !== "content-type")
  .map(([field, header]) => ({
    name: header,
    in: "header",
    required: true,
    schema: { type: "string" },
    description: field,
  }));

function op(tag: string, summary: string, responses: Record<string, unknown>, extra: Operation = {}): Operation {
  return { tags: [tag], summary, responses: { ...responses, ...errors }, ...extra };
}

function schema(s: z.ZodType): unknown {
  return z.toJSONSchema(s, { target: "draft-2020-12", io: "input", unrepresentable: "any" });
}

let cached: unknown;

export function openApiDocument(): unknown {
  if (cached) return cached;
  const paths: Record<string, Record<string, Operation>> = {
    "/api/auth/register": {
      post: op(
        "Auth",
        "Register an account; you become its Administrator",
        { "201": ok("Registered and logged in") },
        { requestBody: body("RegisterInput") },
      ),
    },
    "/api/auth/login": {
      post: op(
        "Auth",
        "Log in; sets an HttpOnly session cookie and returns the CSRF token",
        { "200": ok("Logged in"), "429": problem("Locked after repeated failures") },
        { requestBody: body("LoginInput") },
      ),
    },
    "/api/auth/logout": { post: op("Auth", "Log out", { "204": ok("Logged out") }) },
    "/api/auth/recover": {
      post: op(
        "Auth",
        "Email a single-use password reset link",
        { "202": ok("Sent if the email has a login") },
        { requestBody: body("RecoverInput") },
      ),
    },
    "/api/auth/reset": {
      post: op(
        "Auth",
        "Set a new password with a recovery token",
        { "200": ok("Password changed"), "400": problem("Token used, wrong or expired") },
        { requestBody: body("ResetInput") },
      ),
    },
    "/api/me": {
      get: op("My Account", "Your user", { "200": ok("You") }),
      patch: op(
        "My Account",
        "Update contact details, notifications, password",
        { "200": ok("Saved") },
        { requestBody: body("MeUpdate") },
      ),
    },
    "/api/me/softphone": {
      get: op("My Account", "Your softphone: the media node's WebSocket URL, SIP domain, extension and digest HA1", {
        "200": ok("What SIP.js registers with (never the password)"),
      }),
    },
    "/api/users": {
      get: op("Portal Users", "List portal users (Administrator)", { "200": ok("Users") }),
      post: op(
        "Portal Users",
        "Create a portal user (Administrator)",
        { "201": ok("Created") },
        { requestBody: body("UserCreate") },
      ),
    },
    "/api/users/{id}": {
      parameters: [idParam] as unknown as Operation,
      get: op("Portal Users", "One portal user", { "200": ok("User") }),
      patch: op(
        "Portal Users",
        "Change role, status, contact details, password",
        { "200": ok("Saved"), "409": problem("Would leave no active Administrator") },
        { requestBody: body("UserUpdate") },
      ),
      delete: op("Portal Users", "Delete a portal user", { "204": ok("Deleted") }),
    },
    "/api/users/{id}/tokens": {
      parameters: [idParam] as unknown as Operation,
      get: op("Portal Users", "API tokens of an API user", { "200": ok("Tokens (never the secret)") }),
      post: op(
        "Portal Users",
        "Issue an API token (shown once)",
        { "201": ok("Token") },
        { requestBody: body("TokenCreate") },
      ),
    },
    "/api/pbxs": {
      get: op("My Services", "PBXs you may see", { "200": ok("PBXs") }),
      post: op(
        "My Services",
        "Create a PBX",
        { "201": ok("Created with version 1 applied") },
        { requestBody: body("PbxCreate") },
      ),
    },
    "/api/pbxs/{pbx}": {
      parameters: [pbxParam] as unknown as Operation,
      get: op("My Services", "A PBX: applied version, pending changes", { "200": ok("PBX") }),
      patch: op("My Services", "Rename a PBX", { "200": ok("Renamed") }, { requestBody: body("PbxCreate") }),
      delete: op("My Services", "Delete a PBX and all its configuration", { "204": ok("Deleted") }),
    },
    "/api/pbxs/{pbx}/config": {
      parameters: [pbxParam] as unknown as Operation,
      get: op(
        "Configuration",
        "The draft, or ?version=applied or a version number",
        { "200": ok("Configuration", "PbxConfig") },
        {
          parameters: [{ name: "version", in: "query", schema: { type: "string" } }],
        },
      ),
      put: op(
        "Configuration",
        "Replace the whole draft",
        { "204": ok("Saved to the draft"), "409": problem("Stale If-Match") },
        {
          parameters: [ifMatch],
          requestBody: body("PbxConfig"),
        },
      ),
    },
    "/api/pbxs/{pbx}/changes": {
      parameters: [pbxParam] as unknown as Operation,
      get: op("View PBX Changes", "Pending changes: log, per-entity summary and line diff", { "200": ok("Changes") }),
      delete: op("View PBX Changes", "Discard pending changes", { "204": ok("Discarded") }),
    },
    "/api/pbxs/{pbx}/apply": {
      parameters: [pbxParam] as unknown as Operation,
      post: op(
        "View PBX Changes",
        "Apply PBX Changes: the draft becomes the next version",
        { "201": ok("Applied"), "409": problem("Nothing to apply, or stale") },
        { parameters: [ifMatch] },
      ),
    },
    "/api/pbxs/{pbx}/history": {
      parameters: [pbxParam] as unknown as Operation,
      get: op("View PBX Changes", "Change History: applied versions, who, when, what, node acknowledgements", {
        "200": ok("Versions"),
      }),
    },
    "/api/pbxs/{pbx}/history/{version}": {
      parameters: [
        pbxParam,
        { name: "version", in: "path", required: true, schema: { type: "integer" } },
      ] as unknown as Operation,
      get: op("View PBX Changes", "One version with its diff against the one before", { "200": ok("Version") }),
    },
    "/api/pbxs/{pbx}/revert": {
      parameters: [pbxParam] as unknown as Operation,
      post: op("View PBX Changes", "Revert to an earlier version (applied as a new version)", {
        "201": ok("Reverted"),
        "409": problem("Pending changes exist"),
      }),
    },
    "/api/pbxs/{pbx}/calls": {
      parameters: [pbxParam] as unknown as Operation,
      get: op("Calls", "Call records reported by the media nodes, newest first (?from, ?to ISO dates; ?number)", {
        "200": ok("Calls"),
        "422": problem("A filter that is not a date"),
      }),
    },
    "/api/pbxs/{pbx}/faxes": {
      parameters: [pbxParam] as unknown as Operation,
      get: op(
        "Calls",
        "The fax log: faxes received and sent, as the media nodes report them, newest first (?from, ?to ISO dates; ?number; ?direction inbound|outbound)",
        { "200": ok("Faxes", "FaxList"), "422": problem("A filter that is not a date, number or direction") },
      ),
    },
    "/api/pbxs/{pbx}/announcements/{id}/audio": {
      parameters: [
        pbxParam,
        { name: "id", in: "path", required: true, schema: { type: "string" } },
      ] as unknown as Operation,
      put: op(
        "Configuration",
        "Upload the announcement's recording (the WAV or MP3 file as the body, ?name= its file name); a draft change, played instead of the message once applied",
        {
          "200": ok("The announcement with its audio"),
          "413": problem("Larger than 10 MB"),
          "415": problem("Not WAV or MP3"),
          "422": problem("Empty, or not the file its type says"),
        },
      ),
      get: op("Configuration", "The draft's uploaded recording, to listen to", { "200": ok("The file") }),
      delete: op("Configuration", "Remove the recording: the message is spoken again (a draft change)", {
        "200": ok("The announcement"),
      }),
    },
    "/api/pbxs/{pbx}/conference-rooms/live": {
      parameters: [pbxParam] as unknown as Operation,
      get: op("Calls", "Who is in each conference room now (caller, joinedAt), as the media nodes report it", {
        "200": ok("Rooms in progress by room id"),
      }),
    },
    "/api/pbxs/{pbx}/forward-all": {
      parameters: [pbxParam] as unknown as Operation,
      get: op("Call Forward All", "Each call route's dial code and where it forwards now", {
        "200": ok("Routes with their forward-all state"),
      }),
    },
    "/api/pbxs/{pbx}/forward-all/{route}": {
      parameters: [
        pbxParam,
        { name: "route", in: "path", required: true, schema: { type: "string" } },
      ] as unknown as Operation,
      put: op(
        "Call Forward All",
        "Forward the route's calls to a number, or stop (null); live at once, no Apply",
        {
          "200": ok("The route's forward-all state"),
          "404": problem("No such route in the applied configuration"),
          "409": problem("Enable Forward All is not ticked on the route"),
        },
        { requestBody: body("ForwardAllUpdate") },
      ),
    },
    "/api/pbxs/{pbx}/recordings": {
      parameters: [pbxParam] as unknown as Operation,
      get: op(
        "Call Recordings",
        "Call recordings, newest first, by date and number",
        { "200": ok("{ recordings: RecordingSummary[] }"), "422": problem("A filter that is not a date or a number") },
        { parameters: recordingQuery },
      ),
    },
    "/api/pbxs/{pbx}/recordings/{id}": {
      parameters: [pbxParam, idParam] as unknown as Operation,
      get: op("Call Recordings", "One recording", { "200": ok("{ recording: RecordingSummary }") }),
      delete: op("Call Recordings", "Delete a recording and its file (Administrator, Client User)", {
        "204": ok("Deleted"),
      }),
    },
    "/api/pbxs/{pbx}/recordings/{id}/audio": {
      parameters: [pbxParam, idParam] as unknown as Operation,
      get: op(
        "Call Recordings",
        "Play or download the recording (Range supported)",
        recordingFileResponses,
        recordingFile,
      ),
    },
    "/api/nodes/audio/{pbxId}/{sha256}": {
      parameters: [
        { name: "pbxId", in: "path", required: true, schema: { type: "string" } },
        { name: "sha256", in: "path", required: true, schema: { type: "string", pattern: "^[0-9a-f]{64}$" } },
      ] as unknown as Operation,
      get: op(
        "Media nodes",
        "An announcement recording an applied config names (node token)",
        { "200": ok("The WAV or MP3 file"), "404": problem("No such file") },
        nodeOnly,
      ),
    },
    "/api/nodes/recordings/{pbxId}": {
      parameters: [{ name: "pbxId", in: "path", required: true, schema: { type: "string" } }] as unknown as Operation,
      get: op(
        "Media nodes",
        "A PBX's recordings, for the node's FTP server (node token)",
        { "200": ok("{ recordings: RecordingSummary[] }") },
        { parameters: recordingQuery, ...nodeOnly },
      ),
    },
    "/api/nodes/recordings/{pbxId}/{recordingId}": {
      parameters: [
        { name: "pbxId", in: "path", required: true, schema: { type: "string" } },
        {
          name: "recordingId",
          in: "path",
          required: true,
          schema: { type: "string", pattern: "^[A-Za-z0-9_-]{8,64}$" },
        },
      ] as unknown as Operation,
      put: op(
        "Media nodes",
        `Upload a recording (node token): the file as the body with Content-Length (at most ${MAX_RECORDING_BYTES} bytes), RecordingUpload in the headers; again while the call goes on (final: false), the last upload wins`,
        {
          "200": ok("Replaced an earlier upload"),
          "201": ok("Stored"),
          "400": problem("Bad recording id or metadata; errors[] names each field"),
          "409": problem("The recording is final, or its id belongs to another call"),
          "411": problem("No Content-Length"),
          "413": problem("Larger than the cap"),
        },
        {
          parameters: recordingUploadHeaderParams,
          requestBody: {
            required: true,
            content: {
              "audio/mpeg": { schema: { type: "string", format: "binary" } },
              "application/pkcs7-mime": { schema: { type: "string", format: "binary" } },
            },
          },
          ...nodeOnly,
        },
      ),
      get: op("Media nodes", "A recording's file (node token; Range supported)", recordingFileResponses, {
        ...recordingFile,
        ...nodeOnly,
      }),
    },
    "/api/nodes/connect": {
      get: op("Media nodes", "WebSocket for media nodes (Bearer node token, ?node=id)", {
        "101": ok("Switching protocols"),
      }),
    },
  };
  for (const section of ["addons", "settings"] as const) {
    const ref = section === "addons" ? "AddonsInput" : "SettingsInput";
    paths[`/api/pbxs/{pbx}/${section}`] = {
      parameters: [pbxParam] as unknown as Operation,
      get: op("Configuration", `The draft's ${section}`, {
        "200": ok(section, section === "addons" ? "Addons" : "Settings"),
      }),
      put: op(
        "Configuration",
        `Replace ${section}`,
        { "200": ok("Saved"), "409": problem("Stale If-Match") },
        { parameters: [ifMatch], requestBody: body(ref) },
      ),
      patch: op(
        "Configuration",
        `Change some ${section} fields`,
        { "200": ok("Saved"), "409": problem("Stale If-Match") },
        { parameters: [ifMatch], requestBody: body(ref) },
      ),
    };
  }
  const components: Record<string, unknown> = {
    PbxConfig: schema(PbxConfig),
    Addons: schema(Addons),
    Settings: schema(Settings),
    AddonsInput: schema(AddonsInput),
    SettingsInput: schema(SettingsInput),
    RegisterInput: schema(RegisterInput),
    LoginInput: schema(LoginInput),
    RecoverInput: schema(RecoverInput),
    ResetInput: schema(ResetInput),
    MeUpdate: schema(MeUpdate),
    UserCreate: schema(UserCreate),
    UserUpdate: schema(UserUpdate),
    TokenCreate: schema(TokenCreate),
    PbxCreate: schema(PbxCreate),
    ContactDetails: schema(ContactDetails),
    ForwardAllUpdate: schema(ForwardAllUpdate),
    RecordingUpload: schema(RecordingUpload),
    RecordingSummary: schema(RecordingSummary),
    FaxRecord: schema(FaxRecord),
    FaxList: {
      type: "object",
      properties: { faxes: { type: "array", items: { $ref: "#/components/schemas/FaxRecord" } } },
    },
    Problem: {
      type: "object",
      required: ["type", "title", "status"],
      properties: {
        type: { type: "string" },
        title: { type: "string" },
        status: { type: "integer" },
        detail: { type: "string" },
        errors: {
          type: "array",
          items: { type: "object", properties: { field: { type: "string" }, message: { type: "string" } } },
        },
      },
    },
  };
  for (const [name, collection] of Object.entries(COLLECTIONS)) {
    const title = name.replace(/(^|-)(\w)/g, (_m, _d, ch: string) => ch.toUpperCase());
    components[title] = schema(collection.item);
    components[`${title}Input`] = schema(collection.input);
    paths[`/api/pbxs/{pbx}/${name}`] = {
      parameters: [pbxParam] as unknown as Operation,
      get: op("Configuration", `List ${name} in the draft`, { "200": ok("Items") }),
      post: op(
        "Configuration",
        `Add to ${name}`,
        { "201": ok("Created", title) },
        { requestBody: body(`${title}Input`) },
      ),
    };
    paths[`/api/pbxs/{pbx}/${name}/{id}`] = {
      parameters: [pbxParam, idParam] as unknown as Operation,
      get: op("Configuration", `One of ${name}`, { "200": ok("Item", title) }),
      put: op(
        "Configuration",
        "Replace",
        { "200": ok("Saved", title), "409": problem("Stale If-Match") },
        { parameters: [ifMatch], requestBody: body(`${title}Input`) },
      ),
      patch: op(
        "Configuration",
        "Change some fields",
        { "200": ok("Saved", title), "409": problem("Stale If-Match") },
        { parameters: [ifMatch], requestBody: body(`${title}Input`) },
      ),
      delete: op(
        "Configuration",
        "Delete",
        { "204": ok("Deleted"), "409": problem("Still used elsewhere, or stale") },
        { parameters: [ifMatch] },
      ),
    };
  }
  cached = {
    openapi: "3.1.0",
    info: {
      title: "EdgePBX API",
      version: "0.1.0",
      description: "Hosted PBX management: accounts, PBX configuration and the changeset engine.",
    },
    servers: [{ url: "/" }],
    components: {
      schemas: components,
      securitySchemes: {
        session: { type: "apiKey", in: "cookie", name: "edgepbx_session" },
        bearer: { type: "http", scheme: "bearer" },
        nodeToken: { type: "http", scheme: "bearer", description: "MEDIA_NODE_TOKEN: media nodes only" },
      },
    },
    security: [{ session: [] }, { bearer: [] }],
    paths,
  };
  return cached;
}
