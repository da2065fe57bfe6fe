/** `kiln image info|merge`: thin handlers over cmds/image.ts. */
import type { Command } from 'commander';
import { imageInfo, mergeBin } from '../cmds/image.ts';
import { formatImageReport } from '../image/info.ts';
import { parseFlashSize } from '../image/merge.ts';
import { hex, parseOffset } from '../plan.ts';

export function registerImageCommands(program: Command): void {
  const image = program
    .command('image')
    .description('inspect and merge ESP firmware images')
    .addHelpText('after', '\nExamples:\n  kiln image info build/app.bin\n  kiln image merge build/ -o merged.bin');

  image
    .command('info')
    .description('header, segments, checksum, SHA-256 and app/bootloader description of an image')
    .argument('<file>', 'an app or bootloader .bin')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `\nExamples:\n  kiln image info build/hello_world.bin\n  kiln image info build/bootloader/bootloader.bin --json | jq .sha256.valid\n\nExit codes: 0 shown (even when the checksum or hash is invalid: see the report), 2 not an image.`,
    )
    .action((file: string, flags: { json?: boolean }) => {
      const report = imageInfo(file);
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatImageReport(report));
    });

  image
    .command('merge')
    .description('merge FILE@OFFSET pairs or a build dir into one raw image (esptool merge-bin)')
    .argument('<input...>', 'FILE@OFFSET pairs, or an ESP-IDF build dir')
    .requiredOption('-o, --output <file>', 'the merged image to write')
    .option('-c, --chip <chip>', 'esp32, esp32s3 or esp32c3 (default: the build dir’s, else esp32)')
    .option('-t, --target-offset <offset>', 'the flash address the output will be written at', '0x0')
    .option('--pad-to-size <size>', 'pad with 0xFF up to this flash size, e.g. 4MB')
    .option('--flash-mode <mode>', 'patch the bootloader header: qio, qout, dio, dout or keep')
    .option('--flash-freq <freq>', 'patch the bootloader header: 80m, 40m, 26m, 20m or keep')
    .option('--flash-size <size>', 'patch the bootloader header: 1MB…128MB or keep')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  kiln image merge build/ -o merged.bin
      uses build/flasher_args.json (chip and flash settings), as idf.py merge-bin
  kiln image merge -o merged.bin --chip esp32 bootloader.bin@0x1000 partition-table.bin@0x8000 app.bin@0x10000
  kiln image merge -o app-only.bin -t 0x10000 --pad-to-size 4MB app.bin@0x10000

Exit codes: 0 written, 2 bad input (missing file, overlap, offset before --target-offset).`,
    )
    .action(
      (
        inputs: string[],
        flags: {
          output: string;
          chip?: string;
          targetOffset: string;
          padToSize?: string;
          flashMode?: string;
          flashFreq?: string;
          flashSize?: string;
          json?: boolean;
        },
      ) => {
        const result = mergeBin({
          inputs,
          out: flags.output,
          chip: flags.chip,
          targetOffset: parseOffset(flags.targetOffset),
          padToSize: flags.padToSize === undefined ? undefined : parseFlashSize(flags.padToSize),
          mode: flags.flashMode,
          freq: flags.flashFreq,
          size: flags.flashSize,
        });
        process.stdout.write(
          flags.json
            ? `${JSON.stringify({ type: 'result', ...result })}\n`
            : `Wrote 0x${hex(result.size)} bytes to ${result.out}, ready to flash at 0x${hex(result.targetOffset)}.\n`,
        );
      },
    );
}
