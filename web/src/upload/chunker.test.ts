// The web app's chunker against the vectors the desktop's chunker is checked
// against (sync/tests/chunker_vectors.rs): the same bytes must give the same blocks.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import { AVG_CHUNK, MAX_CHUNK, MIN_CHUNK, chunkAndHash, type ReadAt } from "./chunker";

interface Vector {
  name: string;
  generator: "xorshift64star" | "zeros";
  seed: number;
  length: number;
  blocks: { offset: number; size: number; sha256: string }[];
}

const path = fileURLToPath(new URL("../../../sync/tests/data/chunker-vectors.json", import.meta.url));
const file = JSON.parse(readFileSync(path, "utf8")) as {
  min_chunk: number;
  avg_chunk: number;
  max_chunk: number;
  vectors: Vector[];
};

/** The vectors' generator (see the file's "about"): xorshift64*, little-endian. */
function xorshift64star(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length + 8);
  const view = new DataView(out.buffer);
  const mask = (1n << 64n) - 1n;
  let state = BigInt(Math.max(seed, 1));
  for (let at = 0; at < length; at += 8) {
    state ^= state >> 12n;
    state ^= (state << 25n) & mask;
    state ^= state >> 27n;
    view.setBigUint64(at, (state * 0x2545f4914f6cdd1dn) & mask, true);
  }
  return out.subarray(0, length);
}

/** Reads in uneven pieces, so that read boundaries are shown not to move cuts. */
function memoryReader(data: Uint8Array): ReadAt {
  let calls = 0;
  return async (offset, length) => {
    calls++;
    const take = Math.min(length, 1 + ((calls * 7919) % (3 * 1024 * 1024)));
    return data.slice(offset, offset + take);
  };
}

describe("chunker", () => {
  it("has the desktop's parameters", () => {
    expect([MIN_CHUNK, AVG_CHUNK, MAX_CHUNK]).toEqual([file.min_chunk, file.avg_chunk, file.max_chunk]);
  });

  for (const vector of file.vectors) {
    it(`cuts "${vector.name}" as the desktop does`, async () => {
      const data = vector.generator === "zeros" ? new Uint8Array(vector.length) : xorshift64star(vector.length, vector.seed);
      const blocks = await chunkAndHash(memoryReader(data), data.length);
      expect(blocks.map((b) => ({ offset: b.offset, size: b.size, sha256: b.hash }))).toEqual(vector.blocks);
    }, 60_000);
  }
});
