// Cuts and hashes files off the main thread: the page stays responsive while a
// gigabyte is read (in slices; at most two blocks and the chunker's window are
// held at once) and hashed with WebCrypto's SHA-256.
import { blobReader, chunkAndHash } from "./chunker";
import type { HashReply, HashRequest } from "./hashing";

const running = new Map<number, AbortController>();

self.onmessage = async (event: MessageEvent<HashRequest>) => {
  const message = event.data;
  if (message.type === "cancel") {
    running.get(message.id)?.abort();
    return;
  }
  const { id, file } = message;
  const controller = new AbortController();
  running.set(id, controller);
  const post = (reply: HashReply) => (self as unknown as Worker).postMessage(reply);
  let last = 0;
  try {
    const blocks = await chunkAndHash(
      blobReader(file),
      file.size,
      (done) => {
        const now = Date.now();
        if (now - last > 100) {
          last = now;
          post({ type: "progress", id, done });
        }
      },
      controller.signal,
    );
    post({ type: "done", id, blocks });
  } catch (e) {
    post({ type: "error", id, message: e instanceof Error ? e.message : String(e), aborted: controller.signal.aborted });
  } finally {
    running.delete(id);
  }
};
