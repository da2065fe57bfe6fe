/** NVS partition images: the page/entry codec, the CSV reader, the generator and the dump. */
export { type NvsCsvRow, parseNvsCsv, readCsvRecords } from './csv.ts';
export { dumpNvs, type NvsDump, type NvsDumpEntry, type NvsDumpPage, parseNvs } from './dump.ts';
export { formatNvsDump, itemJson, type NvsJsonItem, nvsDumpJson } from './dump-text.ts';
export {
  NVS_PAGE_SIZE,
  type NvsItem,
  type NvsPrimitive,
  type NvsVersion,
  nvsCrc32,
} from './format.ts';
export {
  ENCODINGS,
  encodeNvs,
  generateNvs,
  generateNvsRows,
  groupByNamespace,
  type NvsGenOptions,
  pythonBase64,
} from './generate.ts';
export { checkNvsSize, NvsWriter } from './writer.ts';
