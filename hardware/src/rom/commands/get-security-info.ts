/**
 * GET_SECURITY_INFO (0x14), on chips whose ROM has it: flags u32, flash_crypt_cnt u8,
 * key_purposes[7], chip_id u32, api_version u32 (esptool `get_security_info`).
 */
import type { CommandHandler } from '../context.ts';
import { words } from '../request.ts';

export const getSecurityInfo: CommandHandler = (request, ctx) => {
  words(request, 0);
  return { data: ctx.chip.securityInfoPayload() };
};
