import { describe, expect, it } from "vitest";
import { conflictName } from "./manager";
import { linkState, type Link } from "../sharing/api";

describe("conflictName", () => {
  it("numbers the new copy, keeping the extension", () => {
    expect(conflictName("report.pdf", 1)).toBe("report (1).pdf");
    expect(conflictName("report (1).pdf", 2)).toBe("report (2).pdf");
    expect(conflictName("Makefile", 3)).toBe("Makefile (3)");
    expect(conflictName(".bashrc", 1)).toBe(".bashrc (1)");
    expect(conflictName("a.tar.gz", 1)).toBe("a.tar (1).gz");
  });
});

describe("linkState", () => {
  const link: Link = {
    id: 1,
    node_id: 2,
    path: "/a",
    url: null,
    created_at: "2026-01-01T00:00:00Z",
    expires_at: null,
    has_password: false,
    max_downloads: null,
    downloads: 0,
    revoked: false,
  };
  const now = Date.parse("2026-06-01T00:00:00Z");
  it("tells active, revoked, expired and exhausted links apart", () => {
    expect(linkState(link, now)).toBe("active");
    expect(linkState({ ...link, revoked: true }, now)).toBe("revoked");
    expect(linkState({ ...link, expires_at: "2026-05-01T00:00:00Z" }, now)).toBe("expired");
    expect(linkState({ ...link, max_downloads: 3, downloads: 3 }, now)).toBe("exhausted");
    expect(linkState({ ...link, max_downloads: 3, downloads: 2 }, now)).toBe("active");
  });
});
