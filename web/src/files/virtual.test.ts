import { describe, expect, it } from "vitest";
import { scrollToReveal, windowRange } from "./virtual";

describe("windowRange", () => {
  it("renders only what is visible plus overscan", () => {
    expect(windowRange(0, 440, 44, 10_000, 5)).toEqual({ start: 0, end: 16 });
    const middle = windowRange(44 * 5000, 440, 44, 10_000, 5);
    expect(middle).toEqual({ start: 4995, end: 5016 });
    expect(middle.end - middle.start).toBeLessThan(40);
  });
  it("clamps at the end and handles empty lists", () => {
    expect(windowRange(44 * 10_000, 440, 44, 10_000, 5)).toEqual({ start: 9995, end: 10_000 });
    expect(windowRange(0, 440, 44, 0)).toEqual({ start: 0, end: 0 });
    expect(windowRange(-50, 440, 44, 3, 2)).toEqual({ start: 0, end: 3 });
  });
  it("is fast for 10,000 rows", () => {
    const started = performance.now();
    for (let top = 0; top < 44 * 10_000; top += 44) windowRange(top, 800, 44, 10_000);
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe("scrollToReveal", () => {
  it("scrolls up or down only when needed", () => {
    expect(scrollToReveal(0, 100, 440, 44)).toBe(0);
    expect(scrollToReveal(20, 0, 440, 44)).toBe(21 * 44 - 440);
    expect(scrollToReveal(3, 0, 440, 44)).toBeNull();
  });
});
