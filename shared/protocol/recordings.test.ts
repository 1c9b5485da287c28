import { describe, expect, it } from "vitest";
import { type RecordingUpload, recordingUploadFromHeaders, recordingUploadHeaders } from "./recordings.ts";

const upload: RecordingUpload = {
  callId: "a84b4c76e66710@pc33.example.com",
  from: "+61299990000",
  to: "100",
  direction: "inbound",
  startedAt: "2026-05-04T09:30:00.000Z",
  durationMs: 61_250,
  encrypted: true,
  contentType: "application/pkcs7-mime",
  final: false,
};

describe("recording upload headers", () => {
  it("carry every field from the node to the edge unchanged", () => {
    const headers = new Headers(recordingUploadHeaders(upload));
    expect(headers.get("x-recording-final")).toBe("false");
    expect(recordingUploadFromHeaders((name) => headers.get(name))).toEqual(upload);
  });

  it("leave text the schema refuses as it came", () => {
    const candidate = recordingUploadFromHeaders(
      (name) =>
        ({ "x-recording-final": "yes", "x-recording-duration-ms": "1.5", "content-type": "Audio/MPEG; x=1" })[name],
    );
    expect(candidate).toEqual({ final: "yes", durationMs: "1.5", contentType: "audio/mpeg" });
  });
});
