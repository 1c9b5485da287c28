import { describe, expect, it } from "vitest";
import { ApiClient } from "./test-support/api-client.ts";

describe("GET /api/openapi.json", () => {
  it("documents every path the issue names, as OpenAPI 3.1 with schemas from the shared zod model", async () => {
    const res = await new ApiClient().get<{
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    }>("/api/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    const required: [string, string[]][] = [
      ["/api/auth/register", ["post"]],
      ["/api/auth/login", ["post"]],
      ["/api/auth/logout", ["post"]],
      ["/api/auth/recover", ["post"]],
      ["/api/auth/reset", ["post"]],
      ["/api/me", ["get", "patch"]],
      ["/api/me/softphone", ["get"]],
      ["/api/users", ["get", "post"]],
      ["/api/users/{id}", ["get", "patch", "delete"]],
      ["/api/pbxs", ["get", "post"]],
      ["/api/pbxs/{pbx}", ["get", "patch", "delete"]],
      ["/api/pbxs/{pbx}/config", ["get"]],
      ["/api/pbxs/{pbx}/changes", ["get"]],
      ["/api/pbxs/{pbx}/apply", ["post"]],
      ["/api/pbxs/{pbx}/history", ["get"]],
      ["/api/pbxs/{pbx}/revert", ["post"]],
      ["/api/pbxs/{pbx}/addons", ["get", "put", "patch"]],
      ["/api/pbxs/{pbx}/recordings", ["get"]],
      ["/api/pbxs/{pbx}/faxes", ["get"]],
      ["/api/pbxs/{pbx}/recordings/{id}", ["get", "delete"]],
      ["/api/pbxs/{pbx}/recordings/{id}/audio", ["get"]],
      ["/api/nodes/recordings/{pbxId}", ["get"]],
      ["/api/nodes/recordings/{pbxId}/{recordingId}", ["put", "get"]],
    ];
    for (const collection of [
      "extensions",
      "call-routes",
      "blacklist",
      "holidays",
      "virtual-extensions",
      "ring-groups",
      "conference-rooms",
      "announcements",
      "fax-senders",
    ]) {
      required.push([`/api/pbxs/{pbx}/${collection}`, ["get", "post"]]);
      required.push([`/api/pbxs/{pbx}/${collection}/{id}`, ["get", "put", "patch", "delete"]]);
    }
    for (const [path, methods] of required) {
      expect(Object.keys(res.body.paths[path] ?? {}), path).toEqual(expect.arrayContaining(methods));
    }
    expect(Object.keys(res.body.components.schemas.RecordingUpload?.properties ?? {})).toEqual(
      expect.arrayContaining(["callId", "startedAt", "durationMs", "encrypted", "contentType", "final"]),
    );
    expect(Object.keys(res.body.components.schemas.FaxRecord?.properties ?? {})).toEqual(
      expect.arrayContaining(["direction", "from", "to", "pages", "result", "startedAt", "durationMs"]),
    );
    const config = res.body.components.schemas.PbxConfig;
    expect(Object.keys(config?.properties ?? {})).toEqual(
      expect.arrayContaining(["settings", "extensions", "callRoutes", "holidays", "addons", "blacklist"]),
    );
    expect(Object.keys(res.body.components.schemas.ExtensionsInput?.properties ?? {})).toEqual(
      expect.arrayContaining(["number", "name", "sipPassword", "voicemail", "recordOutbound"]),
    );
  });

  it("answers unknown paths with problem details", async () => {
    const res = await new ApiClient().get("/api/nope");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.body).toMatchObject({ status: 404, title: "Not found" });
  });
});
