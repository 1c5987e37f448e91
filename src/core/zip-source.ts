/**
 * How an image inside a ZIP is named in manifests and journals: the ZIP's path, `!/`, then the
 * entry's path (a stable contract with users' scripts).
 */
const ZIP_ENTRY_SEP = '!/';

export const zipEntrySource = (zipPath: string, entryPath: string) => `${zipPath}${ZIP_ENTRY_SEP}${entryPath}`;

/** The input a source belongs to: the ZIP for one of its entries, else the source itself. */
export function inputOf(source: string): string {
  const i = source.indexOf(ZIP_ENTRY_SEP);
  return i < 0 ? source : source.slice(0, i);
}
