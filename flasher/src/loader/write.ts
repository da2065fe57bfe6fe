/**
 * A compressed write of one region: what esptool-js 0.7.0's `writeFlash({compress:
 * true})` sends (FLASH_DEFL_BEGIN, FLASH_DEFL_DATA blocks of `FLASH_WRITE_SIZE`,
 * FLASH_DEFL_END with the stub, same timeouts), without its per-byte bookkeeping.
 *
 * Why not `writeFlash`: to size each block's timeout it feeds the compressed stream
 * through a pako `Inflate({chunkSize: 1})`, one callback and one allocation per
 * inflated byte, on the critical path between a block's ACK and the next block (about
 * 15 ms of CPU per 16 KiB block, 0.5 s for a 1 MiB app; the line sits idle meanwhile).
 * Here the per-block sizes come from node:zlib before the first block is sent.
 *
 * Images are written as given: Kiln passes flash mode, frequency and size "keep",
 * for which `writeFlash` leaves the image header alone too.
 */
import { constants, createInflate, deflateSync } from 'node:zlib';
import type { ESPLoader } from 'esptool-js';

/** esptool-js's starting timeout of the write loop (ms). */
const FIRST_BLOCK_TIMEOUT_MS = 5000;

/**
 * Writes `data` at `address` deflated; `progress` gets compressed bytes sent so far
 * and the compressed total (as `writeFlash`'s `reportProgress`).
 */
export async function writeDeflated(
  loader: ESPLoader,
  data: Uint8Array,
  address: number,
  progress?: (written: number, total: number) => void,
): Promise<void> {
  if (data.length === 0) return;
  const compressed = deflateSync(data, { level: 9 });
  const blockSize = loader.FLASH_WRITE_SIZE;
  const inflated = await inflatedPerBlock(compressed, blockSize);
  await loader.flashDeflBegin(data.length, compressed.length, address);
  progress?.(0, compressed.length);
  let timeout = FIRST_BLOCK_TIMEOUT_MS;
  for (let seq = 0, at = 0; at < compressed.length; seq++, at += blockSize) {
    const block = compressed.subarray(at, at + blockSize);
    const blockTimeout = loader.timeoutPerMb(loader.ERASE_WRITE_TIMEOUT_PER_MB, inflated[seq] ?? 0);
    // The ROM writes a block before it answers; the stub answers first and writes it
    // while the next block arrives, so block N waits as long as block N-1 takes.
    if (!loader.IS_STUB) timeout = blockTimeout;
    await loader.flashDeflBlock(block, seq, timeout);
    if (loader.IS_STUB) timeout = blockTimeout;
    progress?.(Math.min(at + blockSize, compressed.length), compressed.length);
  }
  if (loader.IS_STUB) await loader.flashDeflFinish(false, timeout);
}

/** How many bytes each `blockSize` slice of a zlib stream inflates to. */
async function inflatedPerBlock(compressed: Uint8Array, blockSize: number): Promise<number[]> {
  const z = createInflate();
  let out = 0;
  z.on('data', (chunk: Buffer) => {
    out += chunk.length;
  });
  const sizes: number[] = [];
  try {
    for (let at = 0; at < compressed.length; at += blockSize) {
      const before = out;
      await new Promise<void>((resolve, reject) => {
        z.once('error', reject);
        z.write(compressed.subarray(at, at + blockSize));
        z.flush(constants.Z_SYNC_FLUSH, () => {
          z.off('error', reject);
          // 'data' events of this flush run before the next macrotask.
          setImmediate(resolve);
        });
      });
      sizes.push(out - before);
    }
  } finally {
    z.destroy();
  }
  return sizes;
}
