/** `kiln partitions gen|show`: thin handlers over cmds/partitions.ts. */
import { type Command, Option } from 'commander';
import { type PartitionsResult, partitionsFromDevice, partitionsFromFile, partitionsGen } from '../cmds/partitions.ts';
import { UsageError } from '../errors.ts';
import { parseFlashSize } from '../image/merge.ts';
import { formatPartitionCsv } from '../image/partition-csv.ts';
import { parseOffset } from '../plan.ts';
import { createReporter } from '../progress.ts';

const warn = (r: PartitionsResult) => {
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
};

export function registerPartitionCommands(program: Command): void {
  const partitions = program
    .command('partitions')
    .description('partition tables: CSV to binary (as gen_esp32part.py) and back, from a file or a device')
    .addHelpText(
      'after',
      '\nExamples:\n  kiln partitions gen partitions.csv partition-table.bin\n  kiln partitions show --port /dev/ttyUSB0',
    );

  partitions
    .command('gen')
    .description('write the binary table for a CSV, byte-identical to ESP-IDF’s gen_esp32part.py')
    .argument('<csv>', 'the partition CSV (Name, Type, SubType, Offset, Size, Flags)')
    .argument('<out>', 'the .bin to write (0xC00 bytes)')
    .option('--offset <offset>', 'where the table goes (CONFIG_PARTITION_TABLE_OFFSET)', '0x8000')
    .option('--flash-size <size>', 'refuse a table that does not fit, e.g. 4MB')
    .option('--primary-bootloader-offset <offset>', 'for rows of type bootloader')
    .option('--no-md5', 'leave out the MD5 row (CONFIG_PARTITION_TABLE_MD5=n)')
    .option('--json', 'print the partitions as JSON')
    .addHelpText(
      'after',
      `
Examples:
  kiln partitions gen partitions.csv build/partition-table.bin
  kiln partitions gen partitions.csv table.bin --offset 0x9000 --flash-size 4MB

Exit codes: 0 written, 2 the CSV is invalid (the message names the line).`,
    )
    .action(
      (
        csv: string,
        out: string,
        flags: { offset: string; flashSize?: string; primaryBootloaderOffset?: string; md5: boolean; json?: boolean },
      ) => {
        const r = partitionsGen(csv, out, {
          tableOffset: parseOffset(flags.offset),
          flashSize: flags.flashSize === undefined ? undefined : parseFlashSize(flags.flashSize),
          bootloaderOffset:
            flags.primaryBootloaderOffset === undefined ? undefined : parseOffset(flags.primaryBootloaderOffset),
          md5: flags.md5,
        });
        warn(r);
        process.stdout.write(
          flags.json
            ? `${JSON.stringify({ type: 'result', out, ...r })}\n`
            : `Wrote ${out}: ${r.partitions.length} partitions${r.md5 ? ', MD5 row' : ''}.\n`,
        );
      },
    );

  partitions
    .command('show')
    .description('print a partition table (binary or CSV file, or read from a device) as CSV')
    .argument('[file]', 'partition-table.bin or a CSV')
    .option('-p, --port <port>', 'read the table from this device instead')
    .option('-b, --baud <rate>', 'baud rate once the stub runs', '460800')
    .addOption(
      new Option('--before <how>', 'how to enter the ROM loader')
        .choices(['default-reset', 'usb-reset', 'no-reset'])
        .default('default-reset'),
    )
    .option('--offset <offset>', 'where the table is on the device', '0x8000')
    .option('--json', 'print the partitions as JSON')
    .addHelpText(
      'after',
      `
Examples:
  kiln partitions show build/partition_table/partition-table.bin
  kiln partitions show --port rfc2217://127.0.0.1:4000 --json
  kiln partitions show table.bin > table.csv && kiln partitions gen table.csv again.bin

Exit codes: 0 shown, 2 no valid table, 3 port, 4 device.`,
    )
    .action(
      async (
        file: string | undefined,
        flags: { port?: string; baud: string; before: 'default-reset'; offset: string; json?: boolean },
      ) => {
        if (!file === !flags.port) {
          throw new UsageError('PARTITIONS_SOURCE', 'give either a FILE or --port', {
            hint: 'kiln partitions show partition-table.bin, or kiln partitions show --port /dev/ttyUSB0',
          });
        }
        let r: PartitionsResult;
        if (file) r = partitionsFromFile(file);
        else {
          const reporter = createReporter(flags.json ? 'quiet' : 'auto');
          try {
            r = await partitionsFromDevice({
              port: flags.port as string,
              baud: Number(flags.baud),
              before: flags.before,
              offset: parseOffset(flags.offset),
              onEvent: reporter.onEvent,
            });
          } finally {
            reporter.stop();
          }
        }
        warn(r);
        if (flags.json) process.stdout.write(`${JSON.stringify({ type: 'result', ...r }, null, 2)}\n`);
        else
          process.stdout.write(
            `${formatPartitionCsv(r.partitions, { aligned: true })}# MD5 row: ${r.md5 ? 'valid' : 'absent'}\n`,
          );
      },
    );
}
