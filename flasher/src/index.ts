/** @kiln/flasher: flashing ESP32s over USB serial, rfc2217:// and socket:// with esptool-js on Node. */
export { type ChipInfo, chipInfo } from './cmds/chip-info.ts';
export type { DeviceOptions } from './cmds/connect-options.ts';
export { type EraseOptions, type EraseResult, erase } from './cmds/erase.ts';
export { type FlashedRegion, type FlashOptions, type FlashResult, flash } from './cmds/flash.ts';
export { type ListedPort, ports } from './cmds/ports.ts';
export { type ReadFlashOptions, readFlash } from './cmds/read-flash.ts';
export { type ResetOptions, reset } from './cmds/reset.ts';
export { DeviceError, PortError, VerifyError } from './errors.ts';
export type { EventSink, FlasherEvent } from './events.ts';
export { type After, type Before, type ConnectOptions, connect, FlasherSession } from './loader/session.ts';
export { type FlashPlan, loadFlashPlan, type Region } from './plan.ts';
export { createTransport, type SerialLines, type Transport } from './transport/index.ts';
