import { describe, expect, it } from "vitest";
import { contentRange, parseRange } from "./range.ts";

describe("parseRange", () => {
  it("reads the three forms of one byte range, clamped to the file", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual({ offset: 0, length: 100 });
    expect(parseRange("bytes=900-", 1000)).toEqual({ offset: 900, length: 100 });
    expect(parseRange("bytes=900-5000", 1000)).toEqual({ offset: 900, length: 100 });
    expect(parseRange("bytes=-10", 1000)).toEqual({ offset: 990, length: 10 });
    expect(parseRange("bytes=-5000", 1000)).toEqual({ offset: 0, length: 1000 });
    expect(parseRange("bytes=999-999", 1000)).toEqual({ offset: 999, length: 1 });
  });

  it("answers unsatisfiable for bytes the file does not have", () => {
    expect(parseRange("bytes=1000-", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=1000-1001", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
    expect(parseRange("bytes=-1", 0)).toBe("unsatisfiable");
  });

  it("ignores what it need not serve: no header, several ranges, other units, bad syntax", () => {
    for (const header of [undefined, "", "bytes=0-1,4-5", "items=0-1", "bytes=5-2", "bytes=-", "bytes=a-b"])
      expect(parseRange(header, 1000), String(header)).toBeNull();
  });

  it("writes the Content-Range", () => {
    expect(contentRange({ offset: 10, length: 5 }, 1000)).toBe("bytes 10-14/1000");
  });
});
