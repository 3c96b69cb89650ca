import { describe, expect, it } from "vitest";
import { etaSeconds, formatBytes, formatEta, formatSpeed, percent, timeAgo } from "./format";
import { extension, fileKind, previewKind } from "./fileType";

describe("format", () => {
  it("formats bytes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50 MB");
    expect(formatBytes(10 * 1024 ** 3)).toBe("10 GB");
    expect(formatBytes(-1)).toBe("—");
  });
  it("formats speed and ETA", () => {
    expect(formatSpeed(2.5 * 1024 * 1024)).toBe("2.5 MB/s");
    expect(formatEta(etaSeconds(1000, 100))).toBe("10 s");
    expect(formatEta(3900)).toBe("1 h 5 min");
    expect(formatEta(null)).toBeNull();
  });
  it("formats relative times", () => {
    const now = Date.parse("2026-12-02T12:00:00Z");
    expect(timeAgo("2026-12-02T11:59:50Z", now)).toBe("just now");
    expect(timeAgo("2026-12-02T11:30:00Z", now)).toBe("30 min ago");
    expect(timeAgo("2026-12-02T09:00:00Z", now)).toBe("3 h ago");
    expect(timeAgo("2026-11-30T12:00:00Z", now)).toBe("2 d ago");
  });
  it("clamps percentages", () => {
    expect(percent(5, 10)).toBe(50);
    expect(percent(20, 10)).toBe(100);
    expect(percent(1, 0)).toBe(0);
  });
});

describe("fileType", () => {
  it("tells kinds by extension", () => {
    expect(extension("a.TAR.GZ")).toBe("gz");
    expect(extension(".bashrc")).toBe("");
    expect(fileKind("x.png")).toBe("image");
    expect(fileKind("x", true)).toBe("folder");
    expect(fileKind("main.rs")).toBe("code");
    expect(previewKind("doc.pdf")).toBe("pdf");
    expect(previewKind("movie.mkv")).toBeNull();
    expect(previewKind("notes.md")).toBe("text");
  });
});
