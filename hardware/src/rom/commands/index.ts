/**
 * Which handler answers which opcode, and who implements it: the ROM, the flasher
 * stub, or both (esptool `ESP_CMDS` with its `stub_function_only` marks). A command
 * that the running loader lacks gets the "unsupported" answer from the dispatcher.
 */
import { ROM_LOADER_OPCODES as OP } from '@kiln/protocol';
import type { Chip } from '../../chips/chip.ts';
import type { CommandHandler } from '../context.ts';
import { changeBaudrate } from './change-baudrate.ts';
import { eraseFlash } from './erase-flash.ts';
import { eraseRegion } from './erase-region.ts';
import { flashBegin } from './flash-begin.ts';
import { flashData } from './flash-data.ts';
import { flashDeflBegin } from './flash-defl-begin.ts';
import { flashDeflData } from './flash-defl-data.ts';
import { flashDeflEnd } from './flash-defl-end.ts';
import { flashEnd } from './flash-end.ts';
import { getSecurityInfo } from './get-security-info.ts';
import { memBegin } from './mem-begin.ts';
import { memData } from './mem-data.ts';
import { memEnd } from './mem-end.ts';
import { readFlash } from './read-flash.ts';
import { readFlashSlow } from './read-flash-slow.ts';
import { readReg } from './read-reg.ts';
import { runUserCode } from './run-user-code.ts';
import { spiAttach } from './spi-attach.ts';
import { spiFlashMd5 } from './spi-flash-md5.ts';
import { spiSetParams } from './spi-set-params.ts';
import { sync } from './sync.ts';
import { writeReg } from './write-reg.ts';

interface CommandSpec {
  handler: CommandHandler;
  rom: boolean;
  stub: boolean;
  /** For commands only some chips have. */
  chip?: (chip: Chip) => boolean;
}

const both = (handler: CommandHandler, chip?: (c: Chip) => boolean): CommandSpec =>
  chip ? { handler, rom: true, stub: true, chip } : { handler, rom: true, stub: true };
const romOnly = (handler: CommandHandler): CommandSpec => ({ handler, rom: true, stub: false });
const stubOnly = (handler: CommandHandler): CommandSpec => ({ handler, rom: false, stub: true });

const COMMANDS = new Map<number, CommandSpec>([
  [OP.FLASH_BEGIN, both(flashBegin)],
  [OP.FLASH_DATA, both(flashData)],
  [OP.FLASH_END, both(flashEnd)],
  [OP.MEM_BEGIN, both(memBegin)],
  [OP.MEM_END, both(memEnd)],
  [OP.MEM_DATA, both(memData)],
  [OP.SYNC, both(sync)],
  [OP.WRITE_REG, both(writeReg)],
  [OP.READ_REG, both(readReg)],
  [OP.SPI_SET_PARAMS, both(spiSetParams)],
  [OP.SPI_ATTACH, both(spiAttach)],
  [OP.READ_FLASH_SLOW, romOnly(readFlashSlow)],
  [OP.CHANGE_BAUDRATE, both(changeBaudrate)],
  [OP.FLASH_DEFL_BEGIN, both(flashDeflBegin)],
  [OP.FLASH_DEFL_DATA, both(flashDeflData)],
  [OP.FLASH_DEFL_END, both(flashDeflEnd)],
  [OP.SPI_FLASH_MD5, both(spiFlashMd5)],
  [OP.GET_SECURITY_INFO, both(getSecurityInfo, (chip) => chip.securityInfo)],
  [OP.ERASE_FLASH, stubOnly(eraseFlash)],
  [OP.ERASE_REGION, stubOnly(eraseRegion)],
  [OP.READ_FLASH, stubOnly(readFlash)],
  [OP.RUN_USER_CODE, stubOnly(runUserCode)],
]);

/** The handler for an opcode on this chip and loader, or undefined when it is unsupported. */
export function commandHandler(op: number, chip: Chip, stub: boolean): CommandHandler | undefined {
  const spec = COMMANDS.get(op);
  if (!spec || !(stub ? spec.stub : spec.rom) || (spec.chip && !spec.chip(chip))) return undefined;
  return spec.handler;
}
