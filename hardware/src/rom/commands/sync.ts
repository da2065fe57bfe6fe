/** SYNC (0x08): the ROM answers 8 times with value 0x20120707; the stub with value 0. */
import { ROM_LOADER_SYNC_PAYLOAD, ROM_LOADER_SYNC_VALUE } from '@kiln/protocol';
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';

export const sync: CommandHandler = (request, ctx) => {
  if (!request.data.equals(ROM_LOADER_SYNC_PAYLOAD)) fail('bad-length', 'not the SYNC pattern');
  return { value: ctx.stub ? 0 : ROM_LOADER_SYNC_VALUE, repeat: 8 };
};
