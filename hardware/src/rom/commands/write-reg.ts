/** WRITE_REG (0x09): one or more (address, value, mask, delay_us) records; esptool sends 1 or 2. */
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';

const MAX_RECORDS = 64;

export const writeReg: CommandHandler = (request, ctx) => {
  const { data } = request;
  if (data.length === 0 || data.length % 16 !== 0 || data.length > MAX_RECORDS * 16) {
    fail('bad-length', 'WRITE_REG takes 16-byte records');
  }
  for (let i = 0; i < data.length; i += 16) {
    ctx.registers.write(data.readUInt32LE(i), data.readUInt32LE(i + 4), data.readUInt32LE(i + 8));
  }
  return {};
};
